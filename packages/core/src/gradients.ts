// tfjs-core registers no gradients by itself (the umbrella `@tensorflow/tfjs` package does this
// import); without it `tf.grad` fails with "gradient function not found for Sum". Every Attend
// package that computes gradients imports @attend/core, which imports this once.
import '@tensorflow/tfjs-core/dist/register_all_gradients.js';

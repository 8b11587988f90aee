/** The tfjs-core version the bundled gradients were generated from. */
export declare const TFJS_CORE_GRADIENTS_VERSION: string;

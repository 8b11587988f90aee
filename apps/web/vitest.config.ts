import { attendVitestConfig } from '@attend/vitest-config';

export default attendVitestConfig();

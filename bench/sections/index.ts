/** The parts of `npm run bench`, in the order they run and are printed. */
import type { BenchSection } from '../support/section';
import { bulkSection } from './bulk';
import { coldStartSection } from './coldStart';
import { cpuSection } from './cpu';
import { latencySection } from './latency';
import { localHostSection } from './localHost';
import { manifestSection } from './manifest';
import { memorySection } from './memory';
import { profileSection } from './profile';
import { tokenCacheSection } from './tokenCache';
import { tokensSection } from './tokens';

export const sections: readonly BenchSection<any>[] = [
  latencySection,
  cpuSection,
  profileSection,
  localHostSection,
  coldStartSection,
  memorySection,
  tokensSection,
  tokenCacheSection,
  bulkSection,
  manifestSection,
];

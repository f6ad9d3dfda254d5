// Comlink baseline: the echo written the way a Comlink user would write it.
import { expose } from '/node_modules/comlink/dist/esm/comlink.mjs';

expose({ echo: (bytes) => bytes });

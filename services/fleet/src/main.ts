/** `npm start`: the embedded fleet (see fleet.ts). */
import { main } from './fleet.js';

await main();

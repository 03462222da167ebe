import type { Timeframe } from '@noctria/canonical-bar';
import { TIMEFRAME_MS } from './timeframe.js';

/** Every timeframe the adapters can do math for, shortest first. */
export const KNOWN_TIMEFRAMES_LIST: readonly Timeframe[] = (Object.keys(TIMEFRAME_MS) as Timeframe[]).sort((a, b) => TIMEFRAME_MS[a] - TIMEFRAME_MS[b]);

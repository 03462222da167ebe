import type { Migration } from 'kysely';
import * as initial from './20250901000000-initial.js';

/** Every features migration by name; the name order is the apply order. */
export const featuresMigrations: Record<string, Migration> = {
  '20250901000000-initial': initial,
};

export const FEATURES_SCHEMA = 'features';

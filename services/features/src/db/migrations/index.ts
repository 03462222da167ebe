import type { Migration } from 'kysely';
import * as initial from './20250901000000-initial.js';
import * as datasetSnapshots from './20251123150000-dataset-snapshots.js';
import * as monthlyPartitions from './20250915000000-monthly-partitions.js';

/** Every features migration by name; the name order is the apply order. */
export const featuresMigrations: Record<string, Migration> = {
  '20250901000000-initial': initial,
  '20250915000000-monthly-partitions': monthlyPartitions,
  '20251123150000-dataset-snapshots': datasetSnapshots,
};

export const FEATURES_SCHEMA = 'features';

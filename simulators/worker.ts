// piscina worker entry: one long task per worker, owning one shard of devices (DESIGN §2: atomics disabled).
import { runShardTask, type ShardTask } from './shard-task.js';
import type { MetricsSnapshot } from './metrics/registry.js';

export default function run(task: ShardTask): Promise<MetricsSnapshot> {
  return runShardTask(task);
}

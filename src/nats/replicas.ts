/**
 * How many replicas the node's buckets and streams get when the config does not say: 3 on a
 * JetStream cluster (so losing one server loses nothing), 1 on a single server (where 3 cannot be
 * created). Read from the INFO the server sent on connect.
 */
import type { ServerInfo } from '@nats-io/nats-core';

/** `replicas` of the runtime options: a number, or `auto` to read it from the server. */
export type ReplicasSetting = 'auto' | 1 | 3 | 5;

/**
 * 3 when the server is routed in a cluster of three or more (its `connect_urls` list them; a cluster
 * that does not advertise them is taken as a production one), else 1.
 */
export function clusterReplicas(info: Pick<ServerInfo, 'cluster' | 'connect_urls'> | undefined): 1 | 3 {
  if (info?.cluster === undefined || info.cluster === '') return 1;
  const urls = info.connect_urls;
  if (urls === undefined || urls.length === 0) return 3;
  return new Set(urls).size >= 3 ? 3 : 1;
}

/** The replicas to use: the setting's, or {@link clusterReplicas} for `auto`. */
export function resolveReplicas(setting: ReplicasSetting, info: ServerInfo | undefined): 1 | 3 | 5 {
  return setting === 'auto' ? clusterReplicas(info) : setting;
}

/**
 * `$share/<group>/<filter>`: the broker hands each matching message to exactly one subscriber of the group, so
 * several hub instances can split the device traffic (Mosquitto, EMQX; Aedes has no shared subscriptions and
 * would treat this as an ordinary filter that matches nothing).
 */
export function sharedSubscription(filter: string, group: string): string {
  if (!/^[^/+#\s]+$/.test(group)) throw new Error(`invalid share group "${group}": no '/', '+', '#' or spaces`);
  if (filter.startsWith('$share/')) throw new Error(`already a shared subscription: "${filter}"`);
  return `$share/${group}/${filter}`;
}

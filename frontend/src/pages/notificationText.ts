import type { Notification } from "../api/types";
import { displayName, type Person } from "../stores/DirectoryContext";

/** The user ids a notification names, so their names can be fetched. */
export function notificationPeople(n: Notification): number[] {
  const ids = [n.payload.from_user_id, n.payload.by_user_id].map(Number).filter((id) => Number.isInteger(id) && id > 0);
  return [...new Set(ids)];
}

export function notificationText(n: Notification, people: Map<number, Person>): string {
  const who = (key: string) => {
    const id = Number(n.payload[key]);
    return displayName(people.get(id), id);
  };
  switch (n.kind) {
    case "connection.requested":
      return `${who("from_user_id")} sent you a connection request`;
    case "connection.accepted":
      return `${who("by_user_id")} accepted your connection request`;
    case "message.received":
      return `${who("from_user_id")} sent you a message: “${String(n.payload.preview ?? "")}”`;
    default:
      return typeof n.payload.text === "string" ? n.payload.text : n.kind;
  }
}

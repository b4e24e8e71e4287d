// The gateway's answers (src/snaproom_gateway/*/schemas.py).

export interface UserPublic {
  id: number;
  username: string;
  display_name: string | null;
  first_name: string | null;
  last_name: string | null;
  bio: string | null;
  avatar_url: string | null;
  created_at: string;
}

export interface UserPrivate extends UserPublic {
  email: string;
  role: string;
  profile_views: number | null;
}

export interface UserPage {
  items: UserPublic[];
  page: number;
  size: number;
  total: number;
}

export interface AuthAnswer {
  user: UserPrivate;
  token: string;
}

export interface Peer {
  id: number;
  username: string;
  display_name: string | null;
  avatar_url: string | null;
}

export interface Connection {
  id: number;
  requester_id: number;
  addressee_id: number;
  status: "pending" | "accepted" | "rejected";
  created_at: string;
  responded_at: string | null;
  user: Peer;
}

export interface Message {
  id: number;
  from_user_id: number;
  to_user_id: number;
  text: string;
  created_at: string;
}

export interface MessagePage {
  items: Message[];
  next_before: number | null;
}

export interface Notification {
  id: number;
  kind: string;
  payload: Record<string, unknown>;
  created_at: string;
  read_at: string | null;
  read: boolean;
}

export interface NotificationPage {
  items: Notification[];
  next_before: number | null;
}

export interface Presence {
  online: boolean;
  last_seen: string | null;
}

export type ServerFrame =
  | { type: "message"; message: Message }
  | { type: "notification"; notification: Notification }
  | { type: "presence"; user_id: number; online: boolean; last_seen: string | null }
  | { type: "presence"; users: Record<string, Presence> }
  | { type: "pong" }
  | { type: "error"; status: number; detail: string; ref?: string }
  | { type: string; [key: string]: unknown };

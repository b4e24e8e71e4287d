// @vitest-environment node
import type { Message, UserPublic } from "../api/types";
import { parseRoute } from "../router";
import { mergeMessages } from "./ChatPage";
import { matches } from "./UsersPage";

const user = (username: string, display_name: string | null = null): UserPublic => ({
  id: 1, username, display_name, first_name: null, last_name: null, bio: null, avatar_url: null,
  created_at: "2026-12-01T10:00:00Z",
});
const message = (id: number): Message => ({ id, from_user_id: 1, to_user_id: 2, text: `m${id}`, created_at: "" });

describe("people search", () => {
  it("matches username or display name, ignoring case", () => {
    expect(matches(user("alice_1"), "ALI")).toBe(true);
    expect(matches(user("x", "Alice Liddell"), "liddell")).toBe(true);
    expect(matches(user("bob"), "alice")).toBe(false);
    expect(matches(user("bob"), "  ")).toBe(true);
  });
});

describe("mergeMessages", () => {
  it("keeps one copy of each message, oldest first", () => {
    const merged = mergeMessages([message(3), message(5)], [message(4), message(5), message(1)]);
    expect(merged.map((m) => m.id)).toEqual([1, 3, 4, 5]);
  });
});

describe("routes", () => {
  it("reads the hash", () => {
    expect(parseRoute("#/users/7")).toEqual({ name: "user", id: 7 });
    expect(parseRoute("#/users")).toEqual({ name: "users" });
    expect(parseRoute("#/chat/3")).toEqual({ name: "chat", peerId: 3 });
    expect(parseRoute("#/chat")).toEqual({ name: "chat", peerId: null });
    expect(parseRoute("")).toEqual({ name: "profile" });
  });
});

// Friends are what `parley friends` (clients/sdk/friends.py) calls them: a contact is a
// user we share a joined DM room with (m.direct), an incoming request is a DM invite to
// us (is_direct), an outgoing one a DM room we joined where they are still invited.
import { EventType, Preset } from "matrix-js-sdk";
import { directMap, waitForRoom } from "../home/roomInfo.js";

const RANK = { contact: 0, outgoing: 1, incoming: 2 };

/** [{userId, roomId, status, name}], contacts first, then outgoing, then incoming requests. */
export function friendsOf(client) {
    const me = client.getUserId();
    const found = new Map();
    const offer = (friend) => {
        const current = found.get(friend.userId);
        if (!current || RANK[friend.status] < RANK[current.status]) found.set(friend.userId, friend);
    };
    for (const [userId, roomIds] of Object.entries(directMap(client))) {
        if (userId === me) continue;
        for (const roomId of roomIds) {
            const room = client.getRoom(roomId);
            if (!room || room.getMyMembership() !== "join") continue;
            const member = room.getMember(userId);
            const membership = member?.membership;
            if (membership !== "join" && membership !== "invite") continue;
            offer({
                userId, roomId, status: membership === "join" ? "contact" : "outgoing",
                name: member?.name || client.getUser(userId)?.displayName || userId,
            });
        }
    }
    for (const room of client.getRooms()) {
        if (room.getMyMembership() !== "invite") continue;
        const inviter = room.getDMInviter();
        if (!inviter || inviter === me) continue;
        offer({
            userId: inviter, roomId: room.roomId, status: "incoming",
            name: room.getMember(inviter)?.name || inviter,
        });
    }
    return [...found.values()].sort((a, b) => RANK[a.status] - RANK[b.status] || a.userId.localeCompare(b.userId));
}

async function addDirectRoom(client, userId, roomId) {
    const direct = directMap(client);
    const rooms = direct[userId] || [];
    if (rooms.includes(roomId)) return;
    await client.setAccountData(EventType.Direct, { ...direct, [userId]: [...rooms, roomId] });
}

/** Sends a friend request (a DM room inviting them), or reuses the DM we already have. */
export async function addFriend(client, userId) {
    if (userId === client.getUserId()) throw Object.assign(new Error("self"), { code: "friend_self" });
    const existing = friendsOf(client).find((f) => f.userId === userId);
    if (existing?.status === "incoming") return acceptFriend(client, existing);
    if (existing) return existing.roomId;
    await client.getProfileInfo(userId); // M_NOT_FOUND before any room exists
    const { room_id: roomId } = await client.createRoom({
        invite: [userId], is_direct: true, preset: Preset.TrustedPrivateChat,
    });
    await addDirectRoom(client, userId, roomId);
    await waitForRoom(client, roomId);
    return roomId;
}

export async function acceptFriend(client, friend) {
    const room = await client.joinRoom(friend.roomId);
    await addDirectRoom(client, friend.userId, room.roomId);
    return room.roomId;
}

/** Declines a request from, withdraws one to, or unfriends a user: leave and forget every DM with them. */
export async function removeFriend(client, userId) {
    const direct = directMap(client);
    const roomIds = new Set(direct[userId] || []);
    for (const f of friendsOf(client)) if (f.userId === userId) roomIds.add(f.roomId);
    for (const roomId of roomIds) {
        const membership = client.getRoom(roomId)?.getMyMembership();
        if (membership !== "join" && membership !== "invite") continue;
        await client.leave(roomId);
        await client.forget(roomId);
    }
    if (direct[userId]) {
        const updated = { ...direct };
        const kept = direct[userId].filter((r) => !roomIds.has(r));
        if (kept.length) updated[userId] = kept;
        else delete updated[userId];
        await client.setAccountData(EventType.Direct, updated);
    }
}

/** The room of our direct chat with a user, opening one (a friend request) if there is none. */
export async function directChatWith(client, userId) {
    const friend = friendsOf(client).find((f) => f.userId === userId);
    if (friend?.status === "contact" || friend?.status === "outgoing") return friend.roomId;
    return addFriend(client, userId);
}

/** "online" | "unavailable" | "offline" | undefined, as last synced. */
export function presenceOf(client, userId) {
    return client.getUser(userId)?.presence;
}

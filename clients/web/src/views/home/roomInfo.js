// What the sidebar shows about a room: is it a direct chat and with whom, when it was
// last active, its last message, its unread counts. Pure reads of matrix-js-sdk models.
import { ClientEvent, EventType, RoomEvent, RoomStateEvent, UserEvent } from "matrix-js-sdk";
import { useEmitter } from "../../hooks.js";

/** The client events after which the sidebar and the notification zone may change. */
export const SIDEBAR_EVENTS = [
    ClientEvent.Room, ClientEvent.DeleteRoom, ClientEvent.AccountData, RoomEvent.Timeline, RoomEvent.Name,
    RoomEvent.MyMembership, RoomEvent.UnreadNotifications, RoomEvent.Receipt, RoomStateEvent.Members,
    RoomStateEvent.Events, UserEvent.Presence, "Event.decrypted",
];

/** Re-renders the calling component on any of SIDEBAR_EVENTS. */
export function useSidebarEvents(client) {
    useEmitter(client, SIDEBAR_EVENTS, [client]);
}

/** m.direct account data: user ID -> list of DM room IDs. */
export function directMap(client) {
    const content = client.getAccountData(EventType.Direct)?.getContent() || {};
    const map = {};
    for (const [user, rooms] of Object.entries(content)) if (Array.isArray(rooms)) map[user] = rooms;
    return map;
}

/** The other person of a direct chat (from m.direct, or the inviter of a DM invite), or null. */
export function dmPartner(client, room, direct = directMap(client)) {
    for (const [user, rooms] of Object.entries(direct)) {
        if (user !== client.getUserId() && rooms.includes(room.roomId)) return user;
    }
    if (room.getMyMembership() === "invite") return room.getDMInviter() || null;
    return null;
}

export function lastActivity(room) {
    return room.getLastActiveTimestamp() || 0;
}

/** The last message's text ("Alice: hi"), or "" when there is none in the loaded timeline. */
export function lastMessagePreview(room) {
    const events = room.getLiveTimeline().getEvents();
    for (let i = events.length - 1; i >= 0; i--) {
        const ev = events[i];
        if (ev.getType() !== EventType.RoomMessage || ev.isRedacted()) continue;
        const body = ev.getContent().body;
        if (typeof body !== "string") continue;
        const who = ev.sender?.name || ev.getSender();
        return `${who}: ${body}`;
    }
    return "";
}

export function unreadCounts(room) {
    return {
        total: room.getUnreadNotificationCount("total") || 0,
        highlight: room.getUnreadNotificationCount("highlight") || 0,
    };
}

export function roomHref(roomId) {
    return `#/room/${encodeURIComponent(roomId)}`;
}

/** Joined spaces, by name. */
export function joinedSpaces(client) {
    return client.getVisibleRooms().filter((r) => r.isSpaceRoom() && r.getMyMembership() === "join")
        .sort((a, b) => a.name.localeCompare(b.name));
}

/** The server part of a Matrix ID, for `via` lists. */
export function serverOf(id) {
    return id.slice(id.indexOf(":") + 1);
}

/**
 * Resolves once the client's sync knows `roomId` (a room just created over the API is
 * not in the store until the next sync brings it), or after `timeoutMs` regardless.
 */
export function waitForRoom(client, roomId, timeoutMs = 10000) {
    if (client.getRoom(roomId)) return Promise.resolve(client.getRoom(roomId));
    return new Promise((resolve) => {
        const done = () => {
            clearTimeout(timer);
            client.removeListener(ClientEvent.Room, onRoom);
            resolve(client.getRoom(roomId));
        };
        const onRoom = (room) => room.roomId === roomId && done();
        const timer = setTimeout(done, timeoutMs);
        client.on(ClientEvent.Room, onRoom);
    });
}

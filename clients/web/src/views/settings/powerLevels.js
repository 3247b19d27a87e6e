// Roles as power levels (spec: client-server-api "m.room.power_levels"): admin 100,
// moderator 50, member 0; what the signed-in user may do in a room.
import { EventType } from "matrix-js-sdk";

export const ROLES = [["admin", 100], ["moderator", 50], ["member", 0]];

export function powerLevels(room) {
    return room.currentState.getStateEvents(EventType.RoomPowerLevels, "")?.getContent() || {};
}

/**
 * The room's creators, who from room version 12 on ("privileged creators", spec:
 * rooms/v12) outrank every power level and are not listed in m.room.power_levels.
 */
export function creatorsOf(room) {
    const create = room.currentState.getStateEvents(EventType.RoomCreate, "");
    const version = Number(create?.getContent().room_version || room.getVersion());
    if (!create || !(version >= 12)) return new Set();
    const extra = create.getContent().additional_creators;
    return new Set([create.getSender(), ...(Array.isArray(extra) ? extra : [])]);
}

export function levelOf(levels, userId, creators = new Set()) {
    if (creators.has(userId)) return Infinity;
    const users = levels.users || {};
    return typeof users[userId] === "number" ? users[userId] : (levels.users_default ?? 0);
}

/** What `userId` may do in `room`, from its power levels. */
export function permissions(room, userId) {
    const levels = powerLevels(room);
    const mine = levelOf(levels, userId, creatorsOf(room));
    const stateLevel = (type) => levels.events?.[type] ?? levels.state_default ?? 50;
    return {
        level: mine,
        invite: mine >= (levels.invite ?? 0),
        kick: mine >= (levels.kick ?? 50),
        ban: mine >= (levels.ban ?? 50),
        roles: mine >= stateLevel(EventType.RoomPowerLevels),
        name: mine >= stateLevel(EventType.RoomName),
        topic: mine >= stateLevel(EventType.RoomTopic),
        avatar: mine >= stateLevel(EventType.RoomAvatar),
    };
}

// Roles as power levels (spec: client-server-api "m.room.power_levels"): admin 100,
// moderator 50, member 0; what the signed-in user may do in a room.
import { EventType } from "matrix-js-sdk";

export const ROLES = [["admin", 100], ["moderator", 50], ["member", 0]];

export function powerLevels(room) {
    return room.currentState.getStateEvents(EventType.RoomPowerLevels, "")?.getContent() || {};
}

export function levelOf(levels, userId) {
    const users = levels.users || {};
    return typeof users[userId] === "number" ? users[userId] : (levels.users_default ?? 0);
}

/** The role name for a level: the highest role at or below it. */
export function roleOf(level) {
    return (ROLES.find(([, min]) => level >= min) || ROLES[ROLES.length - 1])[0];
}

/** What `userId` may do in `room`, from its power levels. */
export function permissions(room, userId) {
    const levels = powerLevels(room);
    const mine = levelOf(levels, userId);
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

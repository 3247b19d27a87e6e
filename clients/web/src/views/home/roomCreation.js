// Creating rooms and spaces, and filing rooms under a space (m.space.child in the space,
// m.space.parent in the room; spec: client-server-api "Spaces").
import { EventType, Preset, Visibility } from "matrix-js-sdk";
import { serverOf, waitForRoom } from "./roomInfo.js";

export const ROOM_KINDS = ["public", "private", "knock"];

/** The createRoom request for a room of `kind` (public, private or knock). */
export function createRoomOptions({ name, topic, kind, encrypted, spaceId, isSpace }) {
    const initialState = [];
    const options = { name: name.trim() };
    if (topic && topic.trim()) options.topic = topic.trim();
    if (kind === "public") {
        options.preset = Preset.PublicChat;
        options.visibility = Visibility.Public;
    } else {
        options.preset = Preset.PrivateChat;
        options.visibility = Visibility.Private;
    }
    if (kind === "knock") {
        initialState.push({ type: EventType.RoomJoinRules, state_key: "", content: { join_rule: "knock" } });
    }
    if (encrypted && !isSpace) {
        initialState.push({ type: EventType.RoomEncryption, state_key: "", content: { algorithm: "m.megolm.v1.aes-sha2" } });
    }
    if (spaceId) {
        initialState.push({ type: EventType.SpaceParent, state_key: spaceId, content: { via: [serverOf(spaceId)], canonical: true } });
    }
    if (isSpace) {
        options.creation_content = { type: "m.space" };
        // a space holds no conversation: only its admins post in it
        options.power_level_content_override = { events_default: 100 };
    }
    if (initialState.length) options.initial_state = initialState;
    return options;
}

/** Lists `roomId` as a child of `spaceId` (and the space as the room's parent when we may). */
export async function addRoomToSpace(client, spaceId, roomId, { parent = true } = {}) {
    await client.sendStateEvent(spaceId, EventType.SpaceChild, { via: [serverOf(roomId)] }, roomId);
    if (parent) {
        try {
            await client.sendStateEvent(roomId, EventType.SpaceParent, { via: [serverOf(spaceId)], canonical: true }, spaceId);
        } catch (err) {
            // Not allowed to set state in that room: the space's child link is what matters.
            if (err.errcode !== "M_FORBIDDEN") throw err;
        }
    }
}

export async function createRoom(client, fields) {
    const { room_id: roomId } = await client.createRoom(createRoomOptions(fields));
    if (fields.spaceId) await addRoomToSpace(client, fields.spaceId, roomId, { parent: false });
    await waitForRoom(client, roomId);
    return roomId;
}

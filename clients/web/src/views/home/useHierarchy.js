// A space's rooms from the server (GET /hierarchy through client.getRoomHierarchy): it
// also lists rooms we are not in yet, with whether we may join them.
import { EventType } from "matrix-js-sdk";
import { useEffect, useState } from "preact/hooks";
import { describeError } from "../../errors.js";

/** {rooms, error, loading, reload}: the space's direct children (the space itself left out). */
export function useHierarchy(client, spaceId) {
    const [state, setState] = useState({ rooms: [], error: "", loading: true });
    const [generation, setGeneration] = useState(0);
    useEffect(() => {
        if (!spaceId) return undefined;
        let live = true;
        setState((s) => ({ ...s, loading: true }));
        client.getRoomHierarchy(spaceId, 100, 1).then(
            (result) => live && setState({
                rooms: result.rooms.filter((r) => r.room_id !== spaceId), error: "", loading: false,
            }),
            (err) => live && setState({ rooms: [], error: describeError(err), loading: false }),
        );
        return () => {
            live = false;
        };
    }, [client, spaceId, generation]);
    // A child added or removed (by us or someone else) changes the list.
    useEffect(() => {
        if (!spaceId) return undefined;
        const onEvent = (event) => {
            if (event.getRoomId() === spaceId && event.getType() === EventType.SpaceChild) setGeneration((g) => g + 1);
        };
        const onMembership = (room) => room && setGeneration((g) => g + 1);
        client.on("RoomState.events", onEvent);
        client.on("Room.myMembership", onMembership);
        return () => {
            client.removeListener("RoomState.events", onEvent);
            client.removeListener("Room.myMembership", onMembership);
        };
    }, [client, spaceId]);
    return { ...state, reload: () => setGeneration((g) => g + 1) };
}

/** Whether we can join a room listed by /hierarchy without asking. */
export function canJoinDirectly(chunk) {
    return chunk.join_rule === "public" || chunk.world_readable || chunk.join_rule === "restricted";
}

// The one 1:1 call (Matrix VoIP, spec: client-server-api "Voice over IP") the app shows:
// matrix-js-sdk's MatrixCall does the signalling and media (TURN from /voip/turnServer
// included); this module only remembers which call is current, for the room header's
// Call button to start one and for CallLayer to show it.
import { useEffect, useReducer } from "preact/hooks";

let current = null;
const listeners = new Set();

function changed() {
    for (const listener of listeners) listener();
}

export function currentCall() {
    return current;
}

export function setCurrentCall(call) {
    current = call;
    changed();
}

/** Re-renders the caller when the current call is replaced. */
export function useCurrentCall() {
    const [, update] = useReducer((n) => n + 1, 0);
    useEffect(() => {
        listeners.add(update);
        return () => listeners.delete(update);
    }, []);
    return current;
}

/** Whether a call is going on (ringing, connecting or connected). */
export function callActive(call = current) {
    return !!call && call.state !== "ended";
}

/** A DM in the sense of 1:1 calls: exactly two members, joined or invited. */
export function isOneToOne(room) {
    return !!room && room.getMyMembership() === "join" && room.getInvitedAndJoinedMemberCount() === 2;
}

/** Starts a voice call in `room`; the call (and any failure) shows in CallLayer. */
export async function placeCall(client, room) {
    if (callActive()) return current;
    const call = client.createCall(room.roomId);
    if (!call) throw new Error("calls are not supported in this browser");
    setCurrentCall(call);
    await call.placeVoiceCall();
    return call;
}

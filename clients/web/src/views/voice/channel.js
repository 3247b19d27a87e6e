// A room's voice channel: the browser side of Parley's media focus (docs/voice.md).
//
// Joining: the microphone (getUserMedia), an RTCPeerConnection with that one audio track
// and a data channel, the SDP offer (with all ICE candidates: the focus does not trickle)
// POSTed with an OpenID token to the focus the channel's oldest membership names (else
// our own homeserver's), the answer applied; then our MatrixRTC member event is published.
// The data channel brings the roster (who is there, muted, speaking). One channel at a
// time, kept here rather than in a component so it survives moving between rooms.
import { useEffect, useReducer } from "preact/hooks";

const LEAVE_DELAY_MS = 10_000;
const LEAVE_RESTART_MS = 5_000;
export const CALL_MEMBER_TYPE = "org.matrix.msc3401.call.member";
const CALL_MEMBER_TYPES = [CALL_MEMBER_TYPE, "m.call.member"];
const FOCUS_TYPE = "parley";
const FOCUS_PREFIX = "/_parley/voice/v1/rooms/";
const EXPIRES_MS = 4 * 3600 * 1000; // MatrixRTC clients' default membership lifetime
const GATHERING_TIMEOUT_MS = 5000;
const DISCONNECTED_GRACE_MS = 5000; // "disconnected" may heal by itself; "failed" does not

export function memberStateKey(userId, deviceId) {
    return `_${userId}_${deviceId}`;
}

export function memberContent(deviceId, focusUrl) {
    return {
        application: "m.call",
        call_id: "",
        scope: "m.room",
        device_id: deviceId,
        expires: EXPIRES_MS,
        focus_active: { type: FOCUS_TYPE, focus_selection: "oldest_membership" },
        foci_preferred: [{ type: FOCUS_TYPE, focus_url: focusUrl }],
    };
}

/** The channel's current members (non-empty, unexpired member events), oldest first. */
export function channelMembers(room, now = Date.now()) {
    const members = [];
    for (const type of CALL_MEMBER_TYPES) {
        for (const ev of room?.currentState.getStateEvents(type) || []) {
            const content = ev.getContent() || {};
            if (!content.device_id) continue;
            if (typeof content.expires === "number" && ev.getTs() + content.expires < now) continue;
            members.push({
                userId: ev.getSender(), deviceId: content.device_id, ts: ev.getTs(),
                foci: Array.isArray(content.foci_preferred) ? content.foci_preferred : [],
            });
        }
    }
    return members.sort((a, b) => a.ts - b.ts);
}

/** MatrixRTC "oldest_membership": the focus of the first member, else our own server's. */
export function chooseFocus(members, ownBaseUrl) {
    for (const member of members) {
        for (const focus of member.foci) {
            if (focus && focus.type === FOCUS_TYPE && typeof focus.focus_url === "string") {
                return focus.focus_url.replace(/\/+$/, "");
            }
        }
    }
    return ownBaseUrl.replace(/\/+$/, "");
}

/** Whether we may publish a member event in this room (the focus asks the same). */
export function mayJoin(client, room) {
    return !!room && room.getMyMembership() === "join"
        && room.currentState.maySendStateEvent(CALL_MEMBER_TYPE, client.getUserId());
}

export class VoiceError extends Error {
    /** `key` names the i18n string; `detail` is the server's or browser's own words. */
    constructor(key, detail) {
        super(detail || key);
        this.key = key;
        this.detail = detail || "";
    }
}

// --- the one current session -----------------------------------------------------------
let session = null;
const listeners = new Set();

function changed() {
    for (const listener of listeners) listener();
}

export function currentSession() {
    return session;
}

/** Re-renders the caller whenever the voice session changes (roster, mute, state). */
export function useVoiceSession() {
    const [, update] = useReducer((n) => n + 1, 0);
    useEffect(() => {
        listeners.add(update);
        return () => listeners.delete(update);
    }, []);
    return session;
}

class Session {
    constructor(client, roomId) {
        this.client = client;
        this.roomId = roomId;
        this.status = "connecting"; // connecting | connected | ended
        this.error = null; // a VoiceError once something failed
        this.muted = false;
        this.roster = [];
        this.focusUrl = null;
        this.participantId = null;
        this.published = false;
        this.pc = null;
        this.stream = null;
        this.audio = null;
        this.disconnectTimer = null;
        this.delayId = null;
        this.restartTimer = null;
    }

    focusEndpoint(action) {
        return `${this.focusUrl}${FOCUS_PREFIX}${encodeURIComponent(this.roomId)}/${action}`;
    }

    async post(action, body) {
        let response;
        try {
            response = await fetch(this.focusEndpoint(action), {
                method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
            });
        } catch (err) {
            throw new VoiceError("voice.error.focus_unreachable", this.focusUrl);
        }
        const data = await response.json().catch(() => ({}));
        if (!response.ok) {
            throw new VoiceError("voice.error.focus_refused",
                data.error ? `${data.error}${data.errcode ? ` (${data.errcode})` : ""}` : `HTTP ${response.status}`);
        }
        return data;
    }

    async join(room) {
        try {
            this.stream = await navigator.mediaDevices.getUserMedia({ audio: true, video: false });
        } catch (err) {
            const key = err?.name === "NotAllowedError" ? "voice.error.mic_denied" : "voice.error.no_mic";
            throw new VoiceError(key, err?.message);
        }
        if (this.status === "ended") return;
        const pc = new RTCPeerConnection({ iceServers: [] });
        this.pc = pc;
        for (const track of this.stream.getAudioTracks()) pc.addTrack(track, this.stream);
        const channel = pc.createDataChannel("parley-focus");
        channel.onmessage = (e) => this.onMessage(e.data);
        channel.onclose = () => this.dropped();
        pc.ontrack = (e) => {
            if (e.track.kind !== "audio") return;
            this.playRemote(e.streams[0] || new MediaStream([e.track]));
        };
        pc.onconnectionstatechange = () => this.onConnectionState();
        await pc.setLocalDescription(await pc.createOffer());
        await gatheringComplete(pc);

        this.focusUrl = chooseFocus(channelMembers(room), this.client.baseUrl);
        const token = await this.client.getOpenIdToken();
        if (this.status === "ended") return;
        const answer = await this.post("join", {
            openid_token: token, device_id: this.client.getDeviceId(), sdp: pc.localDescription.sdp,
        });
        this.participantId = answer.participant_id;
        if (this.status === "ended") {
            this.post("leave", { participant_id: this.participantId }).catch(() => {});
            return;
        }
        await pc.setRemoteDescription({ type: "answer", sdp: answer.sdp });
        await this.scheduleLeave();
        await this.client.sendStateEvent(this.roomId, CALL_MEMBER_TYPE,
            memberContent(this.client.getDeviceId(), this.focusUrl),
            memberStateKey(this.client.getUserId(), this.client.getDeviceId()));
        this.published = true;
        changed();
    }

    /**
     * MSC4140 delayed events: our homeserver empties our member event by itself unless
     * we keep postponing it, so a closed tab or a crash leaves the channel within
     * LEAVE_DELAY_MS (the focus can only do that for its own server's users). Scheduled
     * before the join is published, as Element Call does.
     */
    async scheduleLeave() {
        let supported = false;
        try {
            supported = await this.client.doesServerSupportUnstableFeature("org.matrix.msc4140");
        } catch {
            // unknown: go without
        }
        if (!supported) return;
        try {
            const { delay_id: delayId } = await this.client._unstable_sendDelayedStateEvent(
                this.roomId, { delay: LEAVE_DELAY_MS }, CALL_MEMBER_TYPE, {},
                memberStateKey(this.client.getUserId(), this.client.getDeviceId()));
            this.delayId = delayId;
            this.restartTimer = setInterval(() => {
                this.client._unstable_updateDelayedEvent(delayId, "restart")
                    .catch((err) => console.warn("could not postpone the delayed leave", err));
            }, LEAVE_RESTART_MS);
        } catch (err) {
            console.warn("could not schedule the delayed leave", err);
        }
    }

    async cancelScheduledLeave() {
        clearInterval(this.restartTimer);
        if (!this.delayId) return;
        const delayId = this.delayId;
        this.delayId = null;
        try {
            await this.client._unstable_updateDelayedEvent(delayId, "cancel");
        } catch {
            // already fired or gone: the member event is empty either way
        }
    }

    playRemote(stream) {
        if (!this.audio) {
            this.audio = document.createElement("audio");
            this.audio.autoplay = true;
            this.audio.className = "voice-channel-audio";
            this.audio.dataset.roomId = this.roomId;
            document.body.append(this.audio);
        }
        this.audio.srcObject = stream;
        this.audio.play().catch(() => {}); // autoplay follows the Join click; nothing to do if refused
    }

    onMessage(data) {
        let message;
        try {
            message = JSON.parse(data);
        } catch {
            console.warn("voice focus sent a message that is not JSON");
            return;
        }
        if (message?.type === "roster" && Array.isArray(message.participants)) {
            this.roster = message.participants;
            changed();
        }
    }

    onConnectionState() {
        const state = this.pc?.connectionState;
        clearTimeout(this.disconnectTimer);
        if (state === "connected" && this.status === "connecting") {
            this.status = "connected";
            changed();
        } else if (state === "failed") {
            this.dropped();
        } else if (state === "disconnected") {
            this.disconnectTimer = setTimeout(() => this.dropped(), DISCONNECTED_GRACE_MS);
        }
    }

    dropped() {
        if (this.status === "ended") return;
        this.end(new VoiceError("voice.error.dropped"));
    }

    async setMuted(muted) {
        for (const track of this.stream?.getAudioTracks() || []) track.enabled = !muted;
        this.muted = muted;
        changed();
        if (this.participantId) await this.post("mute", { participant_id: this.participantId, muted });
    }

    /** Leaves the focus (if it still knows us), closes everything, empties our member event. */
    async end(error = null) {
        if (this.status === "ended") return;
        this.status = "ended";
        this.error = error;
        clearTimeout(this.disconnectTimer);
        const leaving = this.participantId && !error
            ? this.post("leave", { participant_id: this.participantId }).catch((err) => console.warn("voice leave", err))
            : Promise.resolve();
        if (this.pc) this.pc.onconnectionstatechange = null;
        await leaving;
        this.pc?.close();
        for (const track of this.stream?.getTracks() || []) track.stop();
        if (this.audio) {
            this.audio.srcObject = null;
            this.audio.remove();
        }
        this.roster = [];
        changed();
        await this.cancelScheduledLeave();
        if (this.published) {
            try {
                await this.client.sendStateEvent(this.roomId, CALL_MEMBER_TYPE, {},
                    memberStateKey(this.client.getUserId(), this.client.getDeviceId()));
                this.published = false;
            } catch (err) {
                console.warn("could not empty our call member event", err);
            }
        }
    }
}

function gatheringComplete(pc) {
    if (pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
        const timer = setTimeout(done, GATHERING_TIMEOUT_MS); // send what we have by then
        function done() {
            clearTimeout(timer);
            pc.removeEventListener("icegatheringstatechange", check);
            resolve();
        }
        function check() {
            if (pc.iceGatheringState === "complete") done();
        }
        pc.addEventListener("icegatheringstatechange", check);
    });
}

/** Joins `room`'s voice channel (leaving any other first). Failures end up in session.error. */
export async function joinChannel(client, room) {
    if (session && session.status !== "ended") await session.end();
    const joining = new Session(client, room.roomId);
    session = joining;
    changed();
    try {
        await joining.join(room);
    } catch (err) {
        console.warn("voice join failed", err);
        await joining.end(err instanceof VoiceError ? err : new VoiceError("voice.error.generic", err?.message));
    }
}

export async function leaveChannel() {
    const leaving = session;
    if (!leaving) return;
    await leaving.end();
    if (session === leaving) {
        session = null;
        changed();
    }
}

/** Forgets an ended session's error (the message's Dismiss button). */
export function dismissError() {
    if (session && session.status === "ended") {
        session = null;
        changed();
    }
}

export async function setMuted(muted) {
    if (!session || session.status === "ended") return;
    try {
        await session.setMuted(muted);
    } catch (err) {
        session.error = err instanceof VoiceError ? err : new VoiceError("voice.error.generic", err?.message);
        changed();
    }
}

/** Leave the channel when the page goes away (the focus would drop us after 3 s anyway). */
window.addEventListener("pagehide", () => {
    if (session && session.participantId && session.status !== "ended") {
        try {
            navigator.sendBeacon(session.focusEndpoint("leave"),
                new Blob([JSON.stringify({ participant_id: session.participantId })], { type: "application/json" }));
        } catch {
            // the focus notices the silence within seconds
        }
    }
});

// Incoming and ongoing 1:1 calls, above every page: who calls (Answer/Decline), the call
// going on (duration, mute, hang up), and the other side's audio. matrix-js-sdk's
// MatrixCall does the Matrix VoIP signalling; the current call lives in calls.js.
import { CallEvent } from "matrix-js-sdk";
import { useEffect, useRef, useState } from "preact/hooks";
import { useForceUpdate } from "../../hooks.js";
import { registerStrings, t, useLanguage } from "../../i18n.js";
import { Avatar } from "../../ui/Avatar.jsx";
import { MicIcon, MicOffIcon } from "./icons.jsx";
import { callActive, currentCall, setCurrentCall, useCurrentCall } from "./calls.js";
import "./voice.css";

const INCOMING = "Call.incoming"; // CallEventHandlerEvent.Incoming (not exported by the sdk's index)
const ENDED_SHOWN_MS = 4000;

registerStrings({
    en: {
        "call.incoming": "Incoming voice call",
        "call.calling": "Calling…",
        "call.connecting": "Connecting…",
        "call.ended": "Call ended",
        "call.declined": "Call declined",
        "call.no_answer": "No answer",
        "call.answer": "Answer",
        "call.decline": "Decline",
        "call.hangup": "Hang up",
        "call.mute": "Mute",
        "call.unmute": "Unmute",
        "call.panel": "Voice call with {name}",
        "call.duration": "Call duration {time}",
        "call.error.no_user_media": "No microphone is available for the call.",
        "call.error.ice_failed": "The call's connection could not be established or was lost.",
        "call.error.other": "The call failed: {message}",
    },
    fr: {
        "call.incoming": "Appel vocal entrant",
        "call.calling": "Appel en cours…",
        "call.connecting": "Connexion…",
        "call.ended": "Appel terminé",
        "call.declined": "Appel refusé",
        "call.no_answer": "Pas de réponse",
        "call.answer": "Répondre",
        "call.decline": "Refuser",
        "call.hangup": "Raccrocher",
        "call.mute": "Couper le micro",
        "call.unmute": "Réactiver le micro",
        "call.panel": "Appel vocal avec {name}",
        "call.duration": "Durée de l'appel {time}",
        "call.error.no_user_media": "Aucun micro n'est disponible pour l'appel.",
        "call.error.ice_failed": "La connexion de l'appel n'a pas pu être établie ou a été perdue.",
        "call.error.other": "L'appel a échoué : {message}",
    },
});

function formatDuration(ms) {
    const s = Math.max(0, Math.floor(ms / 1000));
    const pad = (n) => String(n).padStart(2, "0");
    return s >= 3600 ? `${Math.floor(s / 3600)}:${pad(Math.floor(s / 60) % 60)}:${pad(s % 60)}` : `${pad(Math.floor(s / 60))}:${pad(s % 60)}`;
}

function errorText(err) {
    if (!err) return "";
    if (err.code === "no_user_media") return t("call.error.no_user_media");
    if (err.code === "ice_failed") return t("call.error.ice_failed");
    return t("call.error.other", { message: err.message || err.code || String(err) });
}

function endedText(call) {
    if (call.hangupReason === "ice_failed") return t("call.error.ice_failed");
    if (call.hangupReason === "invite_timeout") return t("call.no_answer");
    if (call.hangupParty === "remote" && call.hangupReason === "user_hangup" && !call.connectedAt) return t("call.declined");
    return t("call.ended");
}

export function CallLayer({ client }) {
    useLanguage();
    const call = useCurrentCall();
    const update = useForceUpdate();
    const [error, setError] = useState(null);
    const audio = useRef(null);
    const answerButton = useRef(null);

    // Incoming calls become the current call unless one is going on (the sdk handles glare).
    useEffect(() => {
        const onIncoming = (incoming) => {
            if (callActive() && currentCall() !== incoming) return; // busy: it keeps ringing elsewhere
            setError(null);
            setCurrentCall(incoming);
        };
        client.on(INCOMING, onIncoming);
        return () => client.removeListener(INCOMING, onIncoming);
    }, [client]);

    // Follow the call: state, feeds (remote audio), errors; clear it a moment after it ends.
    useEffect(() => {
        if (!call) return undefined;
        let clearTimer = null;
        const onState = (state) => {
            if (state === "connected" && !call.connectedAt) call.connectedAt = Date.now();
            if (state === "ended") {
                clearTimer = setTimeout(() => currentCall() === call && setCurrentCall(null), ENDED_SHOWN_MS);
            }
            update();
        };
        const onError = (err) => {
            console.warn("call error", err);
            setError(err);
        };
        const onReplaced = (newCall) => setCurrentCall(newCall);
        call.on(CallEvent.State, onState);
        call.on(CallEvent.FeedsChanged, update);
        call.on(CallEvent.Error, onError);
        call.on(CallEvent.Replaced, onReplaced);
        call.on(CallEvent.PeerConnectionCreated, update);
        onState(call.state);
        const ticker = setInterval(update, 1000); // the duration
        return () => {
            clearTimeout(clearTimer);
            clearInterval(ticker);
            call.removeListener(CallEvent.State, onState);
            call.removeListener(CallEvent.FeedsChanged, update);
            call.removeListener(CallEvent.Error, onError);
            call.removeListener(CallEvent.Replaced, onReplaced);
            call.removeListener(CallEvent.PeerConnectionCreated, update);
        };
    }, [call]);

    const remoteStream = call?.getRemoteFeeds().find((f) => f.stream.getAudioTracks().length)?.stream || null;
    useEffect(() => {
        const el = audio.current;
        if (!el || el.srcObject === remoteStream) return;
        el.srcObject = remoteStream;
        if (remoteStream) el.play().catch(() => {});
    });

    const state = call?.state;
    useEffect(() => {
        if (state === "ringing") answerButton.current?.focus();
    }, [state]);

    if (!call) return <audio class="call-audio" ref={audio} autoplay />;

    const room = client.getRoom(call.roomId);
    const other = call.getOpponentMember?.() || room?.getMembers().find((m) => m.userId !== client.getUserId());
    const name = other?.name || room?.name || call.roomId;
    const muted = call.isMicrophoneMuted();
    const hangup = () => call.hangup("user_hangup", false);
    const answer = () => {
        setError(null);
        call.answer(true, false);
    };
    const peerState = call.peerConn?.connectionState || "";

    let status;
    if (state === "ringing") status = t("call.incoming");
    else if (state === "connected") status = formatDuration(Date.now() - (call.connectedAt || Date.now()));
    else if (state === "ended") status = endedText(call);
    else if (state === "invite_sent" || state === "wait_local_media" || state === "create_offer" || state === "fledgling") {
        status = call.direction === "inbound" ? t("call.connecting") : t("call.calling");
    } else status = t("call.connecting");

    return (
        <section class={`call-layer ${state}`} role={state === "ringing" ? "alertdialog" : "region"}
            aria-label={t("call.panel", { name })} data-call-state={state} data-peer-state={peerState}>
            <div class="call-who">
                <Avatar client={client} mxc={other?.getMxcAvatarUrl?.()} name={name} id={other?.userId} size={40} />
                <div>
                    <strong class="call-name">{name}</strong>
                    <span class="call-status" role="status" aria-live="polite"
                        aria-label={state === "connected" ? t("call.duration", { time: status }) : undefined}>
                        {status}
                    </span>
                </div>
            </div>
            {error && <p class="error" role="alert">{errorText(error)}</p>}
            <div class="call-actions">
                {state === "ringing" ? (
                    <>
                        <button type="button" class="danger" onClick={() => call.reject()}>{t("call.decline")}</button>
                        <button type="button" class="answer" ref={answerButton} onClick={answer}>{t("call.answer")}</button>
                    </>
                ) : state !== "ended" ? (
                    <>
                        {state === "connected" && (
                            <button type="button" aria-pressed={muted ? "true" : "false"}
                                onClick={async () => {
                                    await call.setMicrophoneMuted(!muted);
                                    update();
                                }}>
                                {muted ? <><MicIcon /> {t("call.unmute")}</> : <><MicOffIcon /> {t("call.mute")}</>}
                            </button>
                        )}
                        <button type="button" class="danger" onClick={hangup}>{t("call.hangup")}</button>
                    </>
                ) : (
                    <button type="button" onClick={() => setCurrentCall(null)}>{t("common.close")}</button>
                )}
            </div>
            <audio class="call-audio" ref={audio} autoplay />
        </section>
    );
}

// Writing messages: Enter sends, Shift+Enter is a new line, Up on an empty composer edits
// your last message. Typing notifications go out while you type. A message that fails
// to send comes back into the composer with the error and a Retry button.
import { MsgType } from "matrix-js-sdk";
import { useEffect, useRef, useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { t } from "../../i18n.js";
import { Icon } from "./icons.jsx";
import { previewText } from "./MessageBody.jsx";

const TYPING_TIMEOUT_MS = 5000;
const TYPING_REFRESH_MS = 3000;

function useTyping(client, roomId) {
    const last = useRef(0);
    const send = (typing) => {
        if (typing && Date.now() - last.current < TYPING_REFRESH_MS) return;
        if (!typing && last.current === 0) return;
        last.current = typing ? Date.now() : 0;
        client.sendTyping(roomId, typing, TYPING_TIMEOUT_MS)
            .catch((err) => console.warn("typing notification not sent", roomId, err));
    };
    useEffect(() => () => last.current && client.sendTyping(roomId, false, 0).catch(() => {}), [roomId]);
    return send;
}

function messageContent(text, replyTo, editing) {
    if (editing) {
        const newContent = { msgtype: editing.getContent().msgtype || MsgType.Text, body: text };
        // spec: client-server-api, "Event replacements"
        return {
            ...newContent,
            body: `* ${text}`,
            "m.new_content": newContent,
            "m.relates_to": { rel_type: "m.replace", event_id: editing.getId() },
        };
    }
    const content = { msgtype: MsgType.Text, body: text };
    // spec: client-server-api, "Rich replies" (no fallback since v1.13)
    if (replyTo) content["m.relates_to"] = { "m.in_reply_to": { event_id: replyTo.getId() } };
    return content;
}

export function Composer({ client, room, replyTo, editing, onCancelReply, onCancelEdit, onEditLast, onSent,
    onAttach, onPasteFiles }) {
    const [text, setText] = useState("");
    const [error, setError] = useState("");
    const input = useRef(null);
    const sendTyping = useTyping(client, room.roomId);

    useEffect(() => {
        if (editing) {
            const content = editing.getContent();
            setText(content.body || "");
        }
        input.current?.focus();
    }, [editing, replyTo]);

    const submit = async () => {
        const body = text.trim();
        if (!body) return;
        const txnId = client.makeTxnId();
        const content = messageContent(body, replyTo, editing);
        setText("");
        setError("");
        sendTyping(false);
        onSent();
        try {
            await client.sendEvent(room.roomId, "m.room.message", content, txnId);
            if (editing) onCancelEdit();
            if (replyTo) onCancelReply();
        } catch (err) {
            // The failed local echo goes; its text comes back here to be retried.
            const echo = room.getLiveTimeline().getEvents().find((e) => e.getTxnId() === txnId);
            if (echo) {
                try {
                    client.cancelPendingEvent(echo);
                } catch (cancelErr) {
                    console.warn("could not remove the failed message", cancelErr);
                }
            }
            setText((now) => (now ? `${body}\n${now}` : body));
            setError(describeError(err));
        }
    };

    const onKeyDown = (e) => {
        if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
            e.preventDefault();
            submit();
        } else if (e.key === "ArrowUp" && !text && !editing) {
            if (onEditLast()) e.preventDefault();
        } else if (e.key === "Escape") {
            if (editing) {
                setText("");
                onCancelEdit();
            } else if (replyTo) onCancelReply();
        }
    };

    const onPaste = (e) => {
        const files = [...(e.clipboardData?.files || [])];
        if (files.length) {
            e.preventDefault();
            onPasteFiles(files);
        }
    };

    const label = t("room.composer", { room: room.name });
    return (
        <div class="composer-area">
            {error && (
                <div class="send-error" role="alert">
                    <span class="error">{t("room.send_failed", { reason: error })}</span>
                    <button class="secondary" onClick={submit}>{t("room.retry")}</button>
                    <button class="icon" aria-label={t("room.dismiss")} onClick={() => setError("")}><Icon name="close" /></button>
                </div>
            )}
            {(replyTo || editing) && (
                <div class="composer-context">
                    <span>
                        <strong>
                            {editing
                                ? t("room.editing")
                                : t("room.replying_to", { name: replyTo.sender?.name || replyTo.getSender() })}
                        </strong>
                        {" "}<span class="muted">{previewText(editing || replyTo)}</span>
                    </span>
                    <button class="icon" aria-label={editing ? t("room.cancel_edit") : t("room.cancel_reply")}
                        onClick={() => {
                            if (editing) {
                                setText("");
                                onCancelEdit();
                            } else onCancelReply();
                        }}><Icon name="close" /></button>
                </div>
            )}
            <form class="composer" onSubmit={(e) => {
                e.preventDefault();
                submit();
            }}>
                <button type="button" class="icon attach" aria-label={t("room.attach")} onClick={onAttach}><Icon name="attach" /></button>
                <textarea ref={input} aria-label={label} placeholder={label} value={text} rows={1}
                    onInput={(e) => {
                        const value = e.currentTarget.value;
                        setText(value);
                        sendTyping(Boolean(value.trim()));
                    }}
                    onKeyDown={onKeyDown} onPaste={onPaste} />
                <button type="submit" class="primary">{t("room.send")}</button>
            </form>
        </div>
    );
}

// The inside of a message: text, image thumbnail, file with a download button, or why it
// cannot be shown (deleted, undecryptable, still decrypting).
import { useEffect, useState } from "preact/hooks";
import { downloadMedia, fetchMedia } from "../../media.js";
import { t } from "../../i18n.js";
import { Icon } from "./icons.jsx";
import { formatBytes } from "./strings.js";
import { stripReplyFallback } from "./timeline.js";

const THUMB_W = 320;
const THUMB_H = 240;

/** A blob: URL for a scaled server thumbnail of `mxc` (falls back to the full file). */
function useThumbnail(client, mxc) {
    const [src, setSrc] = useState(null);
    useEffect(() => {
        if (!mxc?.startsWith("mxc://")) return undefined;
        let live = true;
        const thumb = client.mxcUrlToHttp(mxc, THUMB_W, THUMB_H, "scale", false, true, true);
        const full = client.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
        fetchMedia(client, thumb)
            .catch(() => fetchMedia(client, full))
            .then((s) => live && setSrc(s), () => live && setSrc(null));
        return () => {
            live = false;
        };
    }, [mxc]);
    return src;
}

/** The box an image of w x h takes when scaled into the thumbnail size. */
function thumbBox(info) {
    const w = Number(info?.w) || 0;
    const h = Number(info?.h) || 0;
    if (!w || !h) return { maxWidth: `${THUMB_W}px`, maxHeight: `${THUMB_H}px` };
    const scale = Math.min(1, THUMB_W / w, THUMB_H / h);
    return { width: `${Math.round(w * scale)}px`, height: `${Math.round(h * scale)}px` };
}

function ImageBody({ client, content, onOpenImage }) {
    const info = content.info || {};
    const mxc = info.thumbnail_url || content.url;
    const src = useThumbnail(client, mxc);
    const name = content.filename || content.body || "image";
    return (
        <button class="image-thumb" onClick={() => onOpenImage(content)} aria-label={t("room.open_image", { name })}
            style={thumbBox(info.thumbnail_url ? info.thumbnail_info : info)}>
            {src ? <img src={src} alt={name} /> : <span class="image-placeholder" aria-busy="true" />}
        </button>
    );
}

function FileBody({ client, content }) {
    const name = content.filename || content.body || "file";
    const size = content.info?.size;
    const [error, setError] = useState("");
    const download = async () => {
        setError("");
        try {
            await downloadMedia(client, content.url, name);
        } catch (err) {
            setError(err.message || String(err));
        }
    };
    return (
        <div class="file-body">
            <span class="file-icon"><Icon name="file" size={22} /></span>
            <span class="file-name">{name}</span>
            {size ? <small class="muted">{formatBytes(size)}</small> : null}
            <button class="secondary download" onClick={download} aria-label={t("room.download", { name })}><Icon name="download" /></button>
            {error && <span class="error" role="alert">{error}</span>}
        </div>
    );
}

export function MessageBody({ client, ev, onOpenImage }) {
    if (ev.isRedacted()) return <p class="body deleted">{t("room.deleted")}</p>;
    if (ev.isDecryptionFailure()) return <p class="body undecryptable"><Icon name="lock" size={14} /> {t("room.undecryptable")}</p>;
    if (ev.getType() === "m.room.encrypted") return <p class="body decrypting">{t("room.decrypting")}</p>;
    const content = ev.getContent();
    const msgtype = content.msgtype;
    if (msgtype === "m.image" && content.url) return <ImageBody client={client} content={content} onOpenImage={onOpenImage} />;
    if ((msgtype === "m.file" || msgtype === "m.video" || msgtype === "m.audio") && content.url) {
        return <FileBody client={client} content={content} />;
    }
    if (typeof content.body !== "string") {
        return <p class="body muted">{t("room.unsupported", { type: msgtype || ev.getType() })}</p>;
    }
    const body = stripReplyFallback(content.body, Boolean(ev.replyEventId));
    if (msgtype === "m.emote") return <p class="body emote">* {ev.sender?.name || ev.getSender()} {body}</p>;
    return <p class={`body ${msgtype === "m.notice" ? "notice" : ""}`}>{body}</p>;
}

/** One line quoting the message `ev` replies to; pressing it shows that message. */
export function ReplyQuote({ client, room, eventId, onJump }) {
    const [fetched, setFetched] = useState(null);
    const local = room.findEventById(eventId);
    useEffect(() => {
        if (local) return undefined;
        let live = true;
        client.fetchRoomEvent(room.roomId, eventId).then(async (raw) => {
            const mapped = client.getEventMapper()(raw);
            if (mapped.isEncrypted()) await client.decryptEventIfNeeded(mapped);
            if (live) setFetched(mapped);
        }, () => {});
        return () => {
            live = false;
        };
    }, [eventId, Boolean(local)]);
    const quoted = local || fetched;
    if (!quoted) return <div class="reply-quote muted">{t("room.reply_unknown")}</div>;
    const name = quoted.sender?.name || room.getMember(quoted.getSender())?.name || quoted.getSender();
    return (
        <button class="reply-quote" onClick={() => onJump(eventId)}>
            <span class="visually-hidden">{t("room.in_reply_to", { name })}</span>
            <strong aria-hidden="true">{name}</strong> <span class="quote-text">{previewText(quoted)}</span>
        </button>
    );
}

/** A short text for a message, for quotes and search results. */
export function previewText(ev) {
    if (ev.isRedacted()) return t("room.deleted");
    if (ev.isDecryptionFailure()) return t("room.undecryptable");
    const content = ev.getContent();
    const body = stripReplyFallback(content.body, Boolean(ev.replyEventId));
    if (typeof body !== "string") return "";
    return body.length > 140 ? `${body.slice(0, 140)}…` : body;
}

// Sending files: the server's size limit is checked first, the upload goes through
// client.uploadContent with its progress reported, then an m.image or m.file message
// points at it. Encrypted rooms get no upload at all (attachments are not encrypted).
import { useState } from "preact/hooks";
import { describeError } from "../../errors.js";
import { t } from "../../i18n.js";
import { formatBytes } from "./strings.js";

const mediaConfigs = new WeakMap();

/** The server's upload limit in bytes (m.upload.size), or null if it does not say. */
async function uploadLimit(client) {
    if (!mediaConfigs.has(client)) {
        const promise = client.getMediaConfig(true);
        promise.catch(() => mediaConfigs.delete(client));
        mediaConfigs.set(client, promise);
    }
    try {
        const size = (await mediaConfigs.get(client))["m.upload.size"];
        return typeof size === "number" ? size : null;
    } catch (err) {
        console.warn("media config unavailable", err);
        return null;
    }
}

async function imageSize(file) {
    try {
        const bitmap = await createImageBitmap(file);
        const size = { w: bitmap.width, h: bitmap.height };
        bitmap.close();
        return size;
    } catch {
        return null;
    }
}

function tooLarge(file, limit) {
    return t("room.too_large", { name: file.name, size: formatBytes(file.size), limit: formatBytes(limit) });
}

let nextId = 1;

/** The uploads in progress and failed ones, and `send(files)` to start more. */
export function useUploads(client, room) {
    const [uploads, setUploads] = useState([]);
    const update = (id, change) => setUploads((all) => all.map((u) => (u.id === id ? { ...u, ...change } : u)));
    const add = (upload) => setUploads((all) => [...all, upload]);
    const dismiss = (id) => setUploads((all) => all.filter((u) => u.id !== id));

    const sendOne = async (file) => {
        const id = nextId++;
        const name = file.name || "file";
        if (room.hasEncryptionStateEvent()) {
            add({ id, name, error: t("room.encrypted_upload", { name }) });
            return;
        }
        const limit = await uploadLimit(client);
        if (limit !== null && file.size > limit) {
            add({ id, name, error: tooLarge(file, limit) });
            return;
        }
        add({ id, name, loaded: 0, total: file.size });
        try {
            const isImage = file.type.startsWith("image/");
            const dimensions = isImage ? await imageSize(file) : null;
            const { content_uri: url } = await client.uploadContent(file, {
                name, type: file.type || "application/octet-stream",
                progressHandler: ({ loaded, total }) => update(id, { loaded, total: total || file.size }),
            });
            const info = { mimetype: file.type || "application/octet-stream", size: file.size, ...(dimensions || {}) };
            const content = isImage && dimensions
                ? { msgtype: "m.image", body: name, filename: name, url, info }
                : { msgtype: "m.file", body: name, filename: name, url, info };
            await client.sendMessage(room.roomId, content);
            dismiss(id);
        } catch (err) {
            const reason = err.errcode === "M_TOO_LARGE" || err.httpStatus === 413
                ? t("room.too_large_server", { name, size: formatBytes(file.size), reason: describeError(err) })
                : t("room.upload_failed", { name, reason: describeError(err) });
            update(id, { error: reason, loaded: undefined });
        }
    };

    const send = (files) => {
        for (const file of files) sendOne(file);
    };
    return { uploads, send, dismiss };
}

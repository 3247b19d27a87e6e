// Media from the homeserver. Authenticated media (spec: client-server-api "Content
// repository", v1.11) needs the access token in a header, which <img src> cannot send:
// files are fetched with it and shown through blob: URLs, cached per URL.
import { useEffect, useState } from "preact/hooks";

const cache = new Map();

export function httpUrl(client, mxc, size) {
    if (!mxc || !mxc.startsWith("mxc://")) return null;
    return size
        ? client.mxcUrlToHttp(mxc, size, size, "crop", false, true, true)
        : client.mxcUrlToHttp(mxc, undefined, undefined, undefined, false, true, true);
}

export function fetchMedia(client, url) {
    if (!cache.has(url)) {
        const promise = fetch(url, { headers: { Authorization: `Bearer ${client.getAccessToken()}` } })
            .then((r) => {
                if (!r.ok) throw new Error(`HTTP ${r.status}`);
                return r.blob();
            })
            .then((blob) => URL.createObjectURL(blob));
        promise.catch(() => cache.delete(url));
        cache.set(url, promise);
    }
    return cache.get(url);
}

/** A blob: URL for an mxc:// URI (a thumbnail of `size` pixels if given), or null. */
export function useMedia(client, mxc, size) {
    const url = httpUrl(client, mxc, size);
    const [src, setSrc] = useState(null);
    useEffect(() => {
        if (!url) {
            setSrc(null);
            return undefined;
        }
        let live = true;
        fetchMedia(client, url).then((s) => live && setSrc(s), () => live && setSrc(null));
        return () => {
            live = false;
        };
    }, [url]);
    return src;
}

/** Saves a file from the homeserver under its own name. */
export async function downloadMedia(client, mxc, filename) {
    const src = await fetchMedia(client, httpUrl(client, mxc));
    const a = document.createElement("a");
    a.href = src;
    a.download = filename || "download";
    document.body.appendChild(a);
    a.click();
    a.remove();
}

import { useMedia } from "../media.js";

const COLOURS = ["#4b5bdc", "#d9534f", "#2a9d8f", "#e76f51", "#6a4c93", "#1982c4", "#8ac926", "#ff924c"];

function colourFor(id) {
    let hash = 0;
    for (const ch of id || "") hash = (hash * 31 + ch.charCodeAt(0)) >>> 0;
    return COLOURS[hash % COLOURS.length];
}

/** A round picture, or the first letter of the name on a colour taken from the ID. */
export function Avatar({ client, mxc, name, id, size = 32, presence }) {
    const src = useMedia(client, mxc, size <= 48 ? 96 : 320);
    const letter = (name || id || "?").replace(/^[@#!]/, "").charAt(0).toUpperCase();
    return (
        <span class="avatar" style={{ width: `${size}px`, height: `${size}px`, fontSize: `${size * 0.45}px`,
            background: src ? "transparent" : colourFor(id || name) }} aria-hidden="true">
            {src ? <img src={src} alt="" /> : letter}
            {presence && <span class={`presence-dot ${presence}`} />}
        </span>
    );
}

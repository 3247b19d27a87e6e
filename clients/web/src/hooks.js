// Re-rendering on matrix-js-sdk events: components name the emitter and the events they
// depend on, and render again when one fires.
import { useEffect, useReducer } from "preact/hooks";

export function useForceUpdate() {
    return useReducer((n) => n + 1, 0)[1];
}

/** Re-render when any of `events` fires on `emitter` (a matrix-js-sdk EventEmitter). */
export function useEmitter(emitter, events, deps = []) {
    const update = useForceUpdate();
    useEffect(() => {
        if (!emitter) return undefined;
        const handler = () => update();
        for (const name of events) emitter.on(name, handler);
        return () => {
            for (const name of events) emitter.removeListener(name, handler);
        };
    }, [emitter, ...deps]);
}

/** The current location hash as a list of path parts: "#/room/!abc" -> ["room", "!abc"]. */
export function useRoute() {
    const update = useForceUpdate();
    useEffect(() => {
        window.addEventListener("hashchange", update);
        return () => window.removeEventListener("hashchange", update);
    }, []);
    return parseRoute(location.hash);
}

export function parseRoute(hash) {
    return hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
}

export function navigate(...parts) {
    location.hash = "#/" + parts.map(encodeURIComponent).join("/");
}

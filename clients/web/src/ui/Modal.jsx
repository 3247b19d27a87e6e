import { useEffect, useRef } from "preact/hooks";
import { t } from "../i18n.js";

/** A dialog that takes the focus, closes on Escape and gives the focus back. */
export function Modal({ title, onClose, children, wide }) {
    const ref = useRef(null);
    useEffect(() => {
        const before = document.activeElement;
        const first = ref.current?.querySelector("input, select, textarea, button");
        first?.focus();
        const onKey = (e) => e.key === "Escape" && onClose();
        window.addEventListener("keydown", onKey);
        return () => {
            window.removeEventListener("keydown", onKey);
            before?.focus?.();
        };
    }, []);
    return (
        <div class="modal-backdrop" onClick={(e) => e.target === e.currentTarget && onClose()}>
            <div class={`modal ${wide ? "wide" : ""}`} role="dialog" aria-modal="true" aria-label={title} ref={ref}>
                <header>
                    <h2>{title}</h2>
                    <button class="icon" onClick={onClose} aria-label={t("common.close")}>✕</button>
                </header>
                {children}
            </div>
        </div>
    );
}

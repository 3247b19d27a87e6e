// An image at full size in a dialog (Escape or the close button closes it), with a
// download button that saves it under its name.
import { downloadMedia, useMedia } from "../../media.js";
import { t } from "../../i18n.js";
import { Modal } from "../../ui/Modal.jsx";
import { Icon } from "./icons.jsx";

export function ImageViewer({ client, content, onClose }) {
    const src = useMedia(client, content.url);
    const name = content.filename || content.body || "image";
    return (
        <Modal title={t("room.image_viewer", { name })} onClose={onClose} wide>
            <div class="image-viewer">
                {src ? <img src={src} alt={name} /> : <p class="muted" aria-busy="true">{t("common.loading")}</p>}
            </div>
            <button class="secondary" onClick={() => downloadMedia(client, content.url, name)}>
                <Icon name="download" /> {t("room.download", { name })}
            </button>
        </Modal>
    );
}

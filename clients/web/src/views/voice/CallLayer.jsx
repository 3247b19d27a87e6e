// Incoming and ongoing 1:1 calls, above every page. (Filled in by the voice work.)
export function CallLayer() {
    return null;
}

//! Content blocks shaped for the protocol version in use: a block whose type the version predates is rewritten
//! into one it knows, keeping what the client can still use.

use crate::protocol::{Feature, ProtocolVersion};
use serde_json::{json, Map, Value};

/// Rewrites, for `version`, a JSON array of content blocks; `None` when nothing needs to change (the common
/// case, decided without parsing for every version that knows every block type).
pub fn shape_blocks(blocks: &[u8], version: ProtocolVersion) -> Option<Vec<u8>> {
    if version.supports(Feature::ResourceLinks) && version.supports(Feature::AudioContent) {
        return None;
    }
    let mut parsed: Vec<Value> = serde_json::from_slice(blocks).ok()?;
    let mut changed = false;
    for block in &mut parsed {
        if let Some(shaped) = block.as_object().and_then(|b| shape_block(b, version)) {
            *block = shaped;
            changed = true;
        }
    }
    changed.then(|| serde_json::to_vec(&parsed).ok()).flatten()
}

fn shape_block(block: &Map<String, Value>, version: ProtocolVersion) -> Option<Value> {
    let text = |key: &str| block.get(key).and_then(Value::as_str);
    match text("type")? {
        // `resource_link` (2025-06-18): a text block naming the link.
        "resource_link" if !version.supports(Feature::ResourceLinks) => {
            let label = text("title").or_else(|| text("name")).unwrap_or_default();
            let mut line = format!("Resource link: {label} <{}>", text("uri").unwrap_or_default());
            if let Some(description) = text("description") {
                line.push_str(" - ");
                line.push_str(description);
            }
            Some(json!({"type": "text", "text": line}))
        }
        // `audio` (2025-03-26): an embedded binary resource, which keeps the data and its MIME type.
        "audio" if !version.supports(Feature::AudioContent) => {
            let mime = text("mimeType").unwrap_or("application/octet-stream");
            Some(json!({
                "type": "resource",
                "resource": {"uri": format!("data:{mime};base64,"), "mimeType": mime, "blob": text("data").unwrap_or_default()},
            }))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ProtocolVersion::*;

    const MIXED: &str = r#"[{"type":"text","text":"hi"},{"type":"resource_link","uri":"file:///a.txt","name":"a","title":"A","description":"the a"},{"type":"audio","data":"UklG","mimeType":"audio/wav"}]"#;

    fn shaped(version: ProtocolVersion) -> Option<Value> {
        shape_blocks(MIXED.as_bytes(), version).map(|b| serde_json::from_slice(&b).unwrap_or_default())
    }

    #[test]
    fn versions_that_know_every_block_are_untouched() {
        assert_eq!(shaped(V2025_06_18), None);
        assert_eq!(shaped(V2025_11_25), None);
        assert_eq!(shaped(V2026_07_28), None);
    }

    #[test]
    fn resource_links_become_text_before_2025_06_18() {
        let Some(blocks) = shaped(V2025_03_26) else { panic!("not shaped") };
        assert_eq!(blocks[0], json!({"type": "text", "text": "hi"}));
        assert_eq!(blocks[1], json!({"type": "text", "text": "Resource link: A <file:///a.txt> - the a"}));
        assert_eq!(blocks[2]["type"], "audio");
    }

    #[test]
    fn audio_becomes_an_embedded_blob_before_2025_03_26() {
        let Some(blocks) = shaped(V2024_11_05) else { panic!("not shaped") };
        assert_eq!(blocks[1]["type"], "text");
        assert_eq!(
            blocks[2],
            json!({"type": "resource", "resource": {"uri": "data:audio/wav;base64,", "mimeType": "audio/wav", "blob": "UklG"}})
        );
    }

    #[test]
    fn a_link_without_title_uses_its_name_and_garbage_is_left_alone() {
        let link = br#"[{"type":"resource_link","uri":"u://x","name":"x"}]"#;
        let Some(out) = shape_blocks(link, V2024_11_05) else { panic!("not shaped") };
        assert_eq!(out, br#"[{"text":"Resource link: x <u://x>","type":"text"}]"#.to_vec());
        assert_eq!(shape_blocks(br#"[{"type":"text","text":"t"}]"#, V2024_11_05), None);
        assert_eq!(shape_blocks(b"not json", V2024_11_05), None);
    }
}

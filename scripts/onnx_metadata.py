"""Writes smlm-rt's metadata contract (lib/model/metadata.ts) into an exported ONNX file: the exporters of
scripts/train.py and scripts/train_loc.py share this step."""


def write_metadata(path, props, doc_string):
    """Replaces the file's metadata_props with `props` (str -> str), sets its doc string, checks and saves it."""
    import onnx
    m = onnx.load(path)
    del m.metadata_props[:]
    for key, value in props.items():
        entry = m.metadata_props.add()
        entry.key, entry.value = key, value
    m.doc_string = doc_string
    onnx.checker.check_model(m)
    onnx.save(m, path)

# Options for `cmake --graphviz` (scripts/diagrams.sh): only profgate's own libraries and
# programs, so the picture in docs/ARCHITECTURE.md shows the layers and their link edges.
set(GRAPHVIZ_GRAPH_NAME "profgate layers")
set(GRAPHVIZ_EXTERNAL_LIBS FALSE)
set(GRAPHVIZ_GENERATE_PER_TARGET FALSE)
set(GRAPHVIZ_GENERATE_DEPENDERS FALSE)
set(GRAPHVIZ_IGNORE_TARGETS "^test_" "^fuzz_" "sigv4_sign" "llhttp_sys")

# node-gyp's entry point. smlm-rt's addon is described once, in CMakeLists.txt (flags in native/build-config.cmake);
# this file exists so that tools which rebuild native modules through node-gyp (`node-gyp rebuild`, electron-rebuild,
# node-gyp-build's from-source fallback) produce the same addon: its only target runs the cmake-js build as an
# action, which leaves the addon in build/Release/smlm_rt.node where node-gyp-build looks.
{
  "targets": [
    {
      "target_name": "smlm_rt",
      "type": "none",
      "actions": [
        {
          "action_name": "cmake_js_build",
          "inputs": ["CMakeLists.txt", "native/build-config.cmake"],
          "outputs": ["<(PRODUCT_DIR)/smlm_rt.node"],
          "action": ["node", "scripts/build-native.mjs", "--out", "build/cmake"]
        }
      ]
    }
  ]
}

{
  "targets": [
    {
      "target_name": "worldwander_torch",
      "sources": [
        "src/addon.cc",
        "src/tensor_handle.cc",
        "src/convert.cc",
        "src/dispatch.cc",
        "src/data.cc",
        "src/autograd.cc",
        "src/runtime.cc",
        "src/cpu_allocator.cc",
        "src/distributed.cc",
        "src/script_module.cc",
        "src/float8.cc"
      ],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!@(node torch-flags.cjs include)"
      ],
      "libraries": ["<!@(node torch-flags.cjs libs)"],
      "defines": [
        "NAPI_VERSION=8",
        "NAPI_CPP_EXCEPTIONS",
        "<!@(node torch-flags.cjs defines)",
        "_GLIBCXX_USE_CXX11_ABI=<!(node torch-flags.cjs abi)"
      ],
      "cflags!": ["-fno-exceptions", "-fno-rtti"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17", "-std=gnu++14"],
      "cflags_cc": ["-std=c++17", "-fexceptions", "-frtti", "-O2", "-Wno-unused-parameter", "-Wno-deprecated-declarations"]
    }
  ]
}

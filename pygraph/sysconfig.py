"""tf.sysconfig: the flags that build an op library against pygraph's TF-compatible headers.

An op library links nothing of pygraph (its kernels reach the host through abi.h's C tables), so the link
flags name no pygraph library; hidden visibility keeps each library's registry its own."""

from __future__ import annotations

import os


def get_include():
    """The directory holding tensorflow/core/framework/*.h and pygraph/abi.h."""
    from .codegen import toolchain

    return os.fspath(toolchain.include_dir())


def get_lib():
    return os.path.dirname(os.path.abspath(__file__))


def get_compile_flags():
    return [f"-I{get_include()}", "-std=c++17", "-fPIC", "-fvisibility=hidden", "-fvisibility-inlines-hidden"]


def get_link_flags():
    return ["-shared"]

# nodepulse_bpf_object(NAME [HEADERS h...])
#
# Builds bpf/NAME.bpf.c into a linked BPF object and a bpftool skeleton, all in the build tree,
# and defines the INTERFACE target NAME_skel that carries the skeleton header NAME.skel.h.
# Only the probe that owns NAME links NAME_skel.
function(nodepulse_bpf_object name)
  set(source ${CMAKE_CURRENT_SOURCE_DIR}/${name}.bpf.c)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR})
  set(object ${out_dir}/${name}.bpf.o)
  set(linked ${out_dir}/${name}.linked.bpf.o)
  set(skeleton ${out_dir}/skel/${name}.skel.h)

  # The checked-in vmlinux.h, never the build host's BTF; CO-RE relocates at load time.
  add_custom_command(
    OUTPUT ${object}
    COMMAND ${NODEPULSE_BPF_CLANG} -g -O2 -Wall -Werror -target bpf -D__TARGET_ARCH_x86
            -I${PROJECT_SOURCE_DIR}/vmlinux/x86
            # libbpf's usdt.bpf.h includes <linux/errno.h>, whose <asm/errno.h> lives in the
            # multiarch directory that clang -target bpf does not search.
            -idirafter /usr/include/${CMAKE_LIBRARY_ARCHITECTURE}
            -MD -MF ${object}.d -c ${source} -o ${object}
    DEPENDS ${source}
    DEPFILE ${object}.d
    COMMENT "BPF ${name}.bpf.c"
    VERBATIM)
  # The static link step drops DWARF, so the skeleton embeds ~100 KB instead of ~2 MB.
  add_custom_command(
    OUTPUT ${linked}
    COMMAND ${NODEPULSE_BPFTOOL} gen object ${linked} ${object}
    DEPENDS ${object}
    VERBATIM)
  add_custom_command(
    OUTPUT ${skeleton}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${out_dir}/skel
    COMMAND sh -c "${NODEPULSE_BPFTOOL} gen skeleton ${linked} name ${name}_bpf > ${skeleton}.tmp"
    COMMAND ${CMAKE_COMMAND} -E rename ${skeleton}.tmp ${skeleton}
    DEPENDS ${linked}
    COMMENT "skeleton ${name}.skel.h"
    VERBATIM)
  add_custom_target(${name}_skel_gen DEPENDS ${skeleton})

  add_library(${name}_skel INTERFACE)
  add_dependencies(${name}_skel ${name}_skel_gen)
  target_include_directories(${name}_skel INTERFACE ${out_dir}/skel)
  target_link_libraries(${name}_skel INTERFACE PkgConfig::LIBBPF)
  # bpftool writes libbpf's `extern bool` kconfig values (usdt.bpf.h's LINUX_HAS_BPF_COOKIE) as
  # C's _Bool, which g++ accepts and clang++ (the sanitizer tree) does not.
  target_compile_definitions(${name}_skel INTERFACE $<$<COMPILE_LANG_AND_ID:CXX,Clang>:_Bool=bool>)
endfunction()

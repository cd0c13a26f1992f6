# `cpack` (run in the build tree) builds dist/nodepulse_VERSION_ARCH.deb: the binary, default
# configs (conffiles) and two hardened systemd units; sources in packaging/. README "Install".

# `cpack` (and `cmake --install`) package what is built and build nothing themselves: without
# this, cpack would first build every test and benchmark. Build the nodepulse target before.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

install(TARGETS nodepulse RUNTIME DESTINATION bin)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/agent.yaml ${PROJECT_SOURCE_DIR}/packaging/balancer.yaml
        DESTINATION /etc/nodepulse PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ WORLD_READ)
install(FILES ${PROJECT_SOURCE_DIR}/packaging/nodepulse-agent.service
              ${PROJECT_SOURCE_DIR}/packaging/nodepulse-balancer.service
        DESTINATION /lib/systemd/system)
# docs/ keeps its place beside the README, so the README's relative links resolve in /usr/share/doc.
install(FILES ${PROJECT_SOURCE_DIR}/README.md DESTINATION share/doc/nodepulse)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/nodepulse/docs FILES_MATCHING PATTERN "*.md")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME nodepulse)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "${PROJECT_DESCRIPTION}")
set(CPACK_PACKAGE_CONTACT "nodepulse maintainers <nodepulse@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_PACKAGE_DIRECTORY ${CMAKE_BINARY_DIR}/dist)
# The build is RelWithDebInfo; the package ships the stripped binary (17 MB -> 3 MB).
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "A privileged agent on every node watches, from inside the Linux kernel (BPF), the ways a JVM\nnode dies slowly - a sick network, a starved or paused JVM, memory pressure - and publishes a\nhealth verdict to ZooKeeper, HAProxy, keepalived, alert hooks and Prometheus.")
# Library dependencies from the binary itself (dpkg-shlibdeps); adduser for the balancer's user.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/conffiles ${PROJECT_SOURCE_DIR}/packaging/postinst
    ${PROJECT_SOURCE_DIR}/packaging/prerm ${PROJECT_SOURCE_DIR}/packaging/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)

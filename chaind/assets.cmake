# The files chaind serves from its own binary (assets.h): the block explorer
# in explorer/ and docs/openapi.json, turned into C arrays at build time by
# embed_assets.cmake (CMake only: no xxd, no generator to build first).
file(GLOB CHAIND_EXPLORER_FILES LIST_DIRECTORIES false CONFIGURE_DEPENDS
  ${CMAKE_CURRENT_SOURCE_DIR}/explorer/*)
set(CHAIND_OPENAPI ${PROJECT_SOURCE_DIR}/docs/openapi.json)
set(CHAIND_ASSETS_INC ${CMAKE_CURRENT_BINARY_DIR}/assets_data.inc)
add_custom_command(OUTPUT ${CHAIND_ASSETS_INC}
  COMMAND ${CMAKE_COMMAND} -DEXPLORER_DIR=${CMAKE_CURRENT_SOURCE_DIR}/explorer
          -DOPENAPI=${CHAIND_OPENAPI} -DOUT=${CHAIND_ASSETS_INC}
          -P ${CMAKE_CURRENT_SOURCE_DIR}/embed_assets.cmake
  DEPENDS ${CHAIND_EXPLORER_FILES} ${CHAIND_OPENAPI} ${CMAKE_CURRENT_SOURCE_DIR}/embed_assets.cmake
  COMMENT "Embedding the explorer and openapi.json"
  VERBATIM)
target_sources(chaindlib PRIVATE assets.c ${CHAIND_ASSETS_INC})
target_include_directories(chaindlib PRIVATE ${CMAKE_CURRENT_BINARY_DIR})

# labrt_set_warnings(target): the project's warning set, per target.
option(LABRT_WARNINGS_AS_ERRORS "Treat compiler warnings as errors" OFF)

function(labrt_set_warnings target)
  target_compile_options(${target} PRIVATE
    -Wall -Wextra -Wpedantic -Wshadow -Wconversion
    $<$<BOOL:${LABRT_WARNINGS_AS_ERRORS}>:-Werror>)
endfunction()

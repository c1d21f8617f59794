# helix_deploy --search and --frontier, end to end. Run by CTest with DEPLOY=<helix_deploy>
# WORK=<scratch folder> MODE=search|frontier and, for frontier, RSVG=<rsvg-convert or empty>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
function(expect text what)
  string(FIND "${text}" "${what}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "expected '${what}' in the output:\n${text}")
  endif()
endfunction()

if(MODE STREQUAL "search")
  # The seed (no model option): its two plans ranked, the top three verified, the best drawn.
  execute_process(COMMAND "${DEPLOY}" --search 16 --views summary --out "${WORK}/out"
                  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "--search 16 exited ${code}:\n${err}\n${out}")
  endif()
  foreach(what "## Plan search: helix_seed on 16 GPUs" "| rank | plan | GPUs |" "| verified |"
               "| 1 | " "| 10 | " "◀ --plan pp=2,tg=4x4" "◀ --plan hp=4x4" "- pp=2,tg=4x4 ranks "
               "- hp=4x4 ranks " "Rejected (points per reason" "layers vs pipeline stages: "
               "Same DAG, costed once" " = dp=16" "- best: " "numerics yes ("
               "## The best plan, as a run with --plan")
    expect("${out}" "${what}")
  endforeach()
  # The three best are verified ("yes (...)" in the last column), the rest are not ("—").
  string(REGEX MATCHALL "\\| yes \\([^)]*\\) \\|\n" verified "${out}")
  list(LENGTH verified n)
  if(NOT n EQUAL 3)
    message(FATAL_ERROR "expected 3 verified rows, found ${n}:\n${out}")
  endif()
  file(GLOB timelines "${WORK}/out/*_timeline.svg")
  list(LENGTH timelines n)
  if(NOT n EQUAL 1)
    message(FATAL_ERROR "expected the best plan's timeline in ${WORK}/out, found ${n}")
  endif()
  message(STATUS "search ranked the seed's plans, verified the best three, drew the best")
elseif(MODE STREQUAL "frontier")
  execute_process(COMMAND "${DEPLOY}" --frontier 8 --model llama3_8b --workload decode
                          --input-tokens 2048 --batch-sizes 1,4,16 --views none --out "${WORK}"
                  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "--frontier 8 exited ${code}:\n${err}\n${out}")
  endif()
  foreach(what "## Throughput–interactivity frontier: llama3_8b on 8 GPUs"
               "| plan | batch | family | tokens/s per user | tokens/s per GPU |"
               "note: the frontier runs from " "wrote ")
    expect("${out}" "${what}")
  endforeach()
  # Every costed point is in both files: as a circle with its title, and in the JSON.
  file(READ "${WORK}/frontier.svg" svg)
  file(READ "${WORK}/frontier.json" json)
  # KV-parallel plans are enumerated for decode and costed beside the others.
  expect("${json}" "\"kvp_tp\"")
  string(REGEX MATCHALL "<circle class=\"point\"" circles "${svg}")
  list(LENGTH circles n_svg)
  string(JSON n_json LENGTH "${json}" points)
  string(JSON n_frontier LENGTH "${json}" frontier)
  if(NOT n_svg EQUAL n_json OR n_json EQUAL 0 OR n_frontier EQUAL 0)
    message(FATAL_ERROR "frontier.svg has ${n_svg} points, frontier.json ${n_json} "
                        "(${n_frontier} on the frontier)")
  endif()
  # A browser-grade SVG parser (librsvg, as GNOME and many viewers render SVG) must draw it.
  if(NOT RSVG)
    message(STATUS "skipped: no rsvg-convert (apt-get install librsvg2-bin) to render frontier.svg")
    return()
  endif()
  execute_process(COMMAND "${RSVG}" -o "${WORK}/frontier.png" "${WORK}/frontier.svg"
                  RESULT_VARIABLE code ERROR_VARIABLE err)
  file(SIZE "${WORK}/frontier.png" size)
  if(NOT code EQUAL 0 OR size LESS 1000)
    message(FATAL_ERROR "rsvg-convert could not render frontier.svg (exit ${code}, ${size} bytes): ${err}")
  endif()
  message(STATUS "frontier: ${n_json} points, ${n_frontier} on the frontier; rsvg-convert rendered it")
endif()

# helix_compare on bad input: exit 2 and one line on stderr naming the path (and the index's
# field); another shape is a difference (exit 1), not bad input. Run by CTest with DEPLOY, COMPARE
# and WORK.
file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${DEPLOY}" --plan tp=2 --no-verify --views none --dump-expected
                        "${WORK}/expected"
                RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "helix_deploy --dump-expected failed (${code}): ${err}")
endif()
set(E "${WORK}/expected")
# Actual folders, each with one fault.
file(MAKE_DIRECTORY "${WORK}/empty" "${WORK}/no_index")
file(MAKE_DIRECTORY "${WORK}/garbage/dev01")
file(WRITE "${WORK}/garbage/dev01/layer00_fc1.npy" "not an array")
file(COPY "${E}/dev00/layer00_attention_scores.npy" DESTINATION "${WORK}/shape/dev00")
file(RENAME "${WORK}/shape/dev00/layer00_attention_scores.npy" "${WORK}/shape/dev00/layer00_norm1.npy")
file(COPY "${E}/dev00/layer00_fc1.npy" DESTINATION "${WORK}/misnamed/dev0")
file(READ "${E}/index.json" index)
string(JSON broken SET "${index}" ops 3 shape "\"2x16\"")
file(WRITE "${WORK}/broken_index/index.json" "${broken}")
file(WRITE "${WORK}/not_json/index.json" "{\"format\": ")

# arguments ('|'-separated), exit code, words on stderr (or stdout for exit 1).
set(cases
  "${WORK}/missing|${E}"          2 "helix_compare: '${WORK}/missing': no such folder"
  "${E}|${WORK}/missing"          2 "helix_compare: '${WORK}/missing': no such folder"
  "${WORK}/no_index|${E}"         2 "no_index/index.json': cannot open"
  "${WORK}/not_json|${E}"         2 "not_json/index.json': not JSON"
  "${WORK}/broken_index|${E}"     2 "broken_index/index.json': ops[3].shape: expected an array of whole numbers, found \"2x16\""
  "${E}|${WORK}/empty"            2 "empty' holds none of the"
  "${E}|${WORK}/misnamed"         2 "it has 1 other .npy files, e.g. dev0/layer00_fc1.npy"
  "${E}|${WORK}/garbage"          2 "garbage/dev01/layer00_fc1.npy': not a .npy file"
  "${E}|${WORK}/shape"            1 "shape [2,8,16,16] where [2,16,128] is expected"
  "${E}"                          2 "ACTUAL_DIR is required"
  "${E}|${E}|--rtol|-1"           2 "--rtol"
  "${E}|${E}"                     0 "all 68 given tensors match")
list(LENGTH cases n)
math(EXPR last "${n} - 1")
set(failures 0)
foreach(i RANGE 0 ${last} 3)
  math(EXPR j "${i} + 1")
  math(EXPR k "${i} + 2")
  list(GET cases ${i} arguments)
  list(GET cases ${j} expected_code)
  list(GET cases ${k} words)
  string(REPLACE "|" ";" arguments "${arguments}")
  execute_process(COMMAND "${COMPARE}" ${arguments} RESULT_VARIABLE code OUTPUT_VARIABLE out
                  ERROR_VARIABLE err)
  string(STRIP "${err}" err)
  if(expected_code EQUAL 2)
    set(said "${err}")
    string(REGEX MATCHALL "\n" newlines "${err}")
    list(LENGTH newlines extra_lines)
  else()
    set(said "${out}")
    set(extra_lines 0)
  endif()
  string(FIND "${said}" "${words}" at)
  if(NOT code EQUAL expected_code OR at EQUAL -1 OR extra_lines GREATER 0
     OR err MATCHES "terminate|Aborted|Segmentation")
    message(SEND_ERROR "helix_compare ${arguments}: exit ${code} (expected ${expected_code}), "
                       "stdout '${out}', stderr '${err}', expected '${words}'")
    math(EXPR failures "${failures} + 1")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} bad input(s) not answered as expected")
endif()

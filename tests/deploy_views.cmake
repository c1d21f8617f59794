# helix_deploy --views: which DOT files each choice writes. summary: the whole-model and
# communication views per plan; all: also the MHA and MLP views of the detailed layers (every
# layer up to 8, else the first and the last); none: nothing, --out not even made. The default is
# all up to 4 layers (the seed's 2: its 12 files, see deploy_seed_files.cmake) and summary above.
# Usage: cmake -DDEPLOY=<helix_deploy> -DWORK=<scratch folder> -P deploy_views.cmake
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(failures 0)

# Runs helix_deploy with `arguments` ('|'-separated) into WORK/<name> and compares the sorted DOT
# file names there with `expected` (';'-separated), and the timeline count with `timelines`.
function(expect_views name arguments expected timelines)
  string(REPLACE "|" ";" arguments "${arguments}")
  set(out "${WORK}/${name}")
  execute_process(COMMAND "${DEPLOY}" ${arguments} --no-verify --out "${out}"
                  RESULT_VARIABLE code OUTPUT_VARIABLE output ERROR_VARIABLE errors)
  if(NOT code EQUAL 0)
    message(SEND_ERROR "${name}: helix_deploy exited with ${code}: ${errors}")
    math(EXPR failures "${failures} + 1")
    set(failures ${failures} PARENT_SCOPE)
    return()
  endif()
  file(GLOB dots RELATIVE "${out}" "${out}/*.dot")
  file(GLOB timeline_files "${out}/*_timeline.svg")
  list(SORT dots)
  list(SORT expected)
  list(LENGTH timeline_files timeline_count)
  if(NOT "${dots}" STREQUAL "${expected}" OR NOT timeline_count EQUAL timelines)
    message(SEND_ERROR "${name}: wrote DOT '${dots}' and ${timeline_count} timelines; expected "
                       "'${expected}' and ${timelines}")
    math(EXPR failures "${failures} + 1")
    set(failures ${failures} PARENT_SCOPE)
  endif()
endfunction()

expect_views(seed_summary "--views|summary"
             "optimized_complete_helix_model.dot;optimized_communication_patterns.dot;baseline_complete_helix_model.dot;baseline_communication_patterns.dot"
             2)
# 96 layers, above 4: summary by default; all draws layers 0 and 95 in detail.
expect_views(deep_default "--model|gpt3_175b|--plan|tp=2|--seq|16"
             "tp_2_complete_model.dot;tp_2_communication_patterns.dot" 1)
expect_views(deep_all "--model|gpt3_175b|--plan|tp=2|--seq|16|--views|all"
             "tp_2_complete_model.dot;tp_2_communication_patterns.dot;tp_2_mha_layer_0.dot;tp_2_mha_layer_95.dot;tp_2_mlp_layer_0.dot;tp_2_mlp_layer_95.dot"
             1)

execute_process(COMMAND "${DEPLOY}" --views none --no-verify --out "${WORK}/none"
                RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE errors)
if(NOT code EQUAL 0 OR EXISTS "${WORK}/none")
  message(SEND_ERROR "--views none: exit ${code} (${errors}); it must not make --out")
  math(EXPR failures "${failures} + 1")
endif()

if(failures GREATER 0)
  message(FATAL_ERROR "${failures} --views case(s) wrote other files than expected")
endif()
message("every --views case wrote the expected files")

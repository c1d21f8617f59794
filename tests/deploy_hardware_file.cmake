# helix_deploy --hardware-file with a file holding the h100_sxm_nvl8 preset's fields must cost
# exactly as --hardware h100_sxm_nvl8: the file reader loses no field and the CLI uses what it read.
# Run by CTest with DEPLOY=<helix_deploy> WORK=<scratch folder> HARDWARE=<that file>.
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
set(common --model gpt3_175b --plan tp=8 --plan pp=2,tp=8 --no-verify --dtype fp8 --out "${WORK}")
execute_process(COMMAND "${DEPLOY}" ${common} --hardware h100_sxm_nvl8
                RESULT_VARIABLE preset_code OUTPUT_VARIABLE preset_output ERROR_VARIABLE preset_err)
execute_process(COMMAND "${DEPLOY}" ${common} --hardware-file "${HARDWARE}"
                RESULT_VARIABLE file_code OUTPUT_VARIABLE file_output ERROR_VARIABLE file_err)
if(NOT preset_code EQUAL 0 OR NOT file_code EQUAL 0)
  message(FATAL_ERROR "helix_deploy failed: preset ${preset_code} '${preset_err}', file ${file_code} '${file_err}'")
endif()
# The cost section, from its heading to the end; the second run replaces the first one's files,
# which it says, so those lines are left out.
foreach(run preset file)
  string(FIND "${${run}_output}" "## Cost" at)
  string(SUBSTRING "${${run}_output}" ${at} -1 cost)
  string(REGEX REPLACE "wrote [^\n]*\n" "" cost "${cost}")
  set(${run}_cost "${cost}")
endforeach()
if(NOT preset_cost MATCHES "Cost on h100_sxm_nvl8")
  message(FATAL_ERROR "no cost table in:\n${preset_output}")
endif()
if(NOT preset_cost STREQUAL file_cost)
  message(FATAL_ERROR "the hardware file costs differently:\n${preset_cost}\nvs\n${file_cost}")
endif()
message("the hardware file costs as the preset")
file(REMOVE_RECURSE "${WORK}")

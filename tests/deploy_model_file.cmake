# helix_deploy --model-file: the README's example model file runs end to end (built, checked,
# verified, costed) and the run is titled by the file's "name", on stdout and in the JSON.
# Usage: cmake -DDEPLOY=<helix_deploy> -DMODEL=<model file> -DWORK=<scratch folder> -P ...
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}")
execute_process(COMMAND "${DEPLOY}" --model-file "${MODEL}" --plan tp=8 --out "${WORK}/out"
                        --json "${WORK}/report.json"
                RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "helix_deploy --model-file ${MODEL} exited with ${code}: ${err}\n${out}")
endif()
# print_summary's line: "<plan files' prefix>: <model name>, plan <plan>, ..."
string(FIND "${out}" "tp_8: mistral_7b, plan tp=8, prefill" at)
if(at EQUAL -1)
  message(FATAL_ERROR "the run is not titled 'mistral_7b':\n${out}")
endif()
file(READ "${WORK}/report.json" report)
string(JSON model GET "${report}" model)
if(NOT model STREQUAL "mistral_7b")
  message(FATAL_ERROR "report.json has \"model\": \"${model}\", not \"mistral_7b\"")
endif()
string(JSON passed GET "${report}" plans 0 numerics passed)
if(NOT passed)
  message(FATAL_ERROR "the model file's plan did not pass verification:\n${out}")
endif()
message("mistral_7b from its model file: ran, titled, verified")

# Dumps a plan's numerics with helix_deploy (or with the program DUMP, given the folder) and has
# NumPy recompute y_reference with the README's equations. Run by CTest with DEPLOY or DUMP,
# PYTHON, SCRIPT, WORK and ARGS (helix_deploy options, each followed by '|'); DUMP_MODEL names
# the model DUMP writes.
file(REMOVE_RECURSE "${WORK}")
if(DUMP)
  execute_process(COMMAND "${DUMP}" "${WORK}/npy" ${DUMP_MODEL} RESULT_VARIABLE code OUTPUT_QUIET
                  ERROR_VARIABLE err)
else()
  string(REPLACE "|" ";" ARGS "${ARGS}")
  execute_process(COMMAND "${DEPLOY}" ${ARGS} --no-verify --dump-npy "${WORK}/npy" --out
                          "${WORK}/out" RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
endif()
if(NOT code EQUAL 0)
  message(FATAL_ERROR "dumping the numerics failed (${code}): ${err}")
endif()
execute_process(COMMAND "${PYTHON}" "${SCRIPT}" "${WORK}/npy" RESULT_VARIABLE code)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "NumPy does not reproduce the dump (${code})")
endif()

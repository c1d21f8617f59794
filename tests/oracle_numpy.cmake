# helix as an oracle for a user's own code: helix_deploy dumps the expected tensors of tp=4 on the
# shrunk seed model, a client (SCRIPT: examples/oracle/numpy_tp.py, a Megatron-style
# tensor-parallel forward in NumPy, or tests/oracle/torch_tp.py, the same in PyTorch as 4
# torch.distributed processes) computes its own from the dump's weight slices and input, and
# helix_compare must find them equal (exit 0), then name the op and rank of each injected bug as
# the first difference (exit 1). Run by CTest with DEPLOY, COMPARE, PYTHON, SCRIPT and WORK.
get_filename_component(client "${SCRIPT}" NAME)
file(REMOVE_RECURSE "${WORK}")
execute_process(COMMAND "${DEPLOY}" --plan tp=4 --no-verify --views none --dump-expected
                        "${WORK}/expected"
                RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT code EQUAL 0 OR NOT out MATCHES "wrote the expected tensors of helix_seed \\(shrunk\\)")
  message(FATAL_ERROR "helix_deploy --dump-expected failed (${code}): ${out}${err}")
endif()

# case: NumPy arguments ('|'-separated, "-" for none), helix_compare's exit code, words its output must hold.
set(cases
  "correct" "-" 0 "all 120 given tensors match"
  "float32" "--float32" 0 "all 120 given tensors match"
  "wrong_fc1_slice" "--bug|wrong-fc1-slice" 1 "FIRST DIFFERENCE: layer00.fc1.dev02 "
  "skipped_all_reduce" "--bug|skipped-all-reduce" 1
      "FIRST DIFFERENCE: layer00.all_reduce_attention_output.dev02 ")
list(LENGTH cases n)
math(EXPR last "${n} - 1")
foreach(i RANGE 0 ${last} 4)
  math(EXPR j "${i} + 1")
  math(EXPR k "${i} + 2")
  math(EXPR l "${i} + 3")
  list(GET cases ${i} name)
  list(GET cases ${j} arguments)
  list(GET cases ${k} expected_code)
  list(GET cases ${l} words)
  string(REPLACE "|" ";" arguments "${arguments}")
  if(arguments STREQUAL "-")
    set(arguments "")
  endif()
  execute_process(COMMAND "${PYTHON}" "${SCRIPT}" "${WORK}/expected" "${WORK}/${name}" ${arguments}
                  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${client} ${arguments} failed (${code}): ${out}${err}")
  endif()
  execute_process(COMMAND "${COMPARE}" "${WORK}/expected" "${WORK}/${name}"
                  RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${name}:\n${out}${err}")
  string(FIND "${out}" "${words}" at)
  if(NOT code EQUAL expected_code OR at EQUAL -1)
    message(FATAL_ERROR "${name}: helix_compare exited ${code} (expected ${expected_code}) and "
                        "printed no '${words}':\n${out}${err}")
  endif()
  # The code keeps no scores or probabilities (fused attention): listed, never compared.
  if(NOT out MATCHES "not given \\(not compared\\): 16 tensors: layer00.attention_scores.dev00")
    message(FATAL_ERROR "${name}: the scores and probabilities are not listed as not given")
  endif()
endforeach()
message(STATUS "oracle: ${client}'s tensor-parallel forward matches, and both bugs are pinned")

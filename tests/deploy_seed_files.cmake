# Runs helix_deploy with no plan options into a fresh folder and checks that the seed's 12 DOT
# files are there (and an SVG beside each when Graphviz is installed).
# Usage: cmake -DDEPLOY=<helix_deploy> -DOUT=<folder> -P deploy_seed_files.cmake
file(REMOVE_RECURSE "${OUT}")
execute_process(COMMAND "${DEPLOY}" --out "${OUT}" RESULT_VARIABLE result OUTPUT_VARIABLE output
                ERROR_VARIABLE errors)
message("${output}${errors}")
if(NOT result EQUAL 0)
  message(FATAL_ERROR "helix_deploy exited with ${result}")
endif()
set(files optimized_complete_helix_model optimized_mha_layer_0_pipeline_parallel
          optimized_mha_layer_1_pipeline_parallel optimized_mlp_layer_0_grouped_tensor_parallel
          optimized_mlp_layer_1_grouped_tensor_parallel optimized_communication_patterns
          baseline_complete_helix_model baseline_mha_layer_0_two_level_partition
          baseline_mha_layer_1_two_level_partition baseline_mlp_layer_0_tensor_parallel
          baseline_mlp_layer_1_tensor_parallel baseline_communication_patterns)
find_program(GRAPHVIZ_DOT dot)
set(extensions .dot)
if(GRAPHVIZ_DOT)
  list(APPEND extensions .svg)
endif()
set(missing "")
foreach(name IN LISTS files)
  foreach(extension IN LISTS extensions)
    set(path "${OUT}/${name}${extension}")
    if(NOT EXISTS "${path}")
      list(APPEND missing "${name}${extension}")
    else()
      file(SIZE "${path}" size)
      if(size EQUAL 0)
        list(APPEND missing "${name}${extension} (empty)")
      endif()
    endif()
  endforeach()
endforeach()
if(missing)
  message(FATAL_ERROR "helix_deploy did not write: ${missing}")
endif()
list(LENGTH files count)
message("all ${count} seed files written (${extensions})")

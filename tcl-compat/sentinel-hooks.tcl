# tcl-compat/sentinel-hooks.tcl: appended by tcl-compat/run, after
# cluster-hooks.tcl, to the WORK COPY of tests/instances.tcl (the harness of
# ./runtest-sentinel too), never to the cached pristine suite. It changes the
# harness only, not what any test checks:
#
#   --sentinel-base-port <n>   first port of the Sentinel instances (the
#                              harness hardcodes 20000); the data nodes'
#                              first port is cluster-hooks.tcl's --base-port.

rename parse_options viator_sentinel_prev_parse_options
proc parse_options {} {
    set rest {}
    for {set j 0} {$j < [llength $::argv]} {incr j} {
        set opt [lindex $::argv $j]
        if {$opt eq {--sentinel-base-port}} {
            incr j
            set ::sentinel_base_port [lindex $::argv $j]
        } else {
            lappend rest $opt
        }
    }
    set ::argv $rest
    viator_sentinel_prev_parse_options
}

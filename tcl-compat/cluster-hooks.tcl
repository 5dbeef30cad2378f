# tcl-compat/cluster-hooks.tcl: appended by tcl-compat/run to the WORK COPY of
# tests/instances.tcl (the harness of ./runtest-cluster), never to the cached
# pristine suite. It changes the harness only, not what any test checks:
#
#   --base-port <n>   first client port of the instances (the harness hardcodes
#                     30000; cluster bus ports are client port + 10000)
#   --skipfile <f>    one test name per line: such tests are not run and are
#                     reported as "[skip]: <name>" (a name starting with "/"
#                     is a Tcl regexp, as in ./runtest's --skipfile)
#
# and it makes the harness's `test` print the same "[testing]: / [ok]: /
# [err]: / [exception]: " lines ./runtest prints, so tcl-compat/run reads
# both suites' logs with one parser. A failed assertion still ends the file
# ("Jumping to next unit"), as in the pristine harness.

set ::viator_skiptests {}

rename parse_options viator_pristine_parse_options
proc parse_options {} {
    set rest {}
    for {set j 0} {$j < [llength $::argv]} {incr j} {
        set opt [lindex $::argv $j]
        set val [lindex $::argv [expr {$j + 1}]]
        if {$opt eq {--base-port}} {
            incr j
            set ::redis_base_port $val
        } elseif {$opt eq {--skipfile}} {
            incr j
            set fd [open $val r]
            foreach name [split [read $fd] "\n"] {
                if {$name ne {}} { lappend ::viator_skiptests $name }
            }
            close $fd
        } else {
            lappend rest $opt
        }
    }
    set ::argv $rest
    viator_pristine_parse_options
}

rename test viator_pristine_test
proc test {descr code} {
    if {[search_pattern_list $descr $::viator_skiptests]} {
        puts "\[skip\]: $descr"
        return
    }
    puts "\[testing\]: $descr"
    # The pristine `test` runs the body in our caller's frame (uplevel 1 from
    # a proc that is itself called at our caller's level).
    set rc [catch {uplevel 1 [list viator_pristine_test $descr $code]} res opts]
    if {$rc == 0} {
        puts "\[ok\]: $descr"
        return $res
    } elseif {$rc == 4} {
        # An assertion failed: the pristine test printed "FAILED: <msg>" and
        # asks to skip the rest of the file.
        puts "\[err\]: $descr"
        set msg [lindex [split $::errorInfo "\n"] 0]
        if {[string match "assertion:*" $msg]} { set msg [string range $msg 10 end] }
        puts $msg
        return -code continue
    } else {
        puts ""
        puts "\[exception\]: $descr: [lindex [split $res "\n"] 0]"
        return -options $opts $res
    }
}

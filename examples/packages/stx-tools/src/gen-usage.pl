#!/usr/bin/perl
# gen-usage.pl: turn usage.txt into a C header defining STX_SUM_USAGE.
# Runs on the build machine (hence Build-Depends: perl:native).
use strict;
use warnings;

print "/* generated from usage.txt by gen-usage.pl: do not edit */\n";
print "#define STX_SUM_USAGE \\\n";
while (my $line = <STDIN>) {
	chomp $line;
	$line =~ s/(["\\])/\\$1/g;
	print "\t\"$line\\n\" \\\n";
}
print "\t\"\"\n";

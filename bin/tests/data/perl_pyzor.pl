#!/usr/bin/perl
# Drives SpamAssassin's pure-Perl Pyzor client (Debian package spamassassin)
# for pyzord's interop tests:
#   perl_pyzor.pl (check|report) HOST PORT DIGEST
# Prints the reply's keys as sorted "Key: value" lines; exit 0 when Code is
# 200, 1 for another code, 2 when there is no reply.
use strict;
use warnings;
use Mail::SpamAssassin::Pyzor::Client ();

my ( $op, $host, $port, $digest ) = @ARGV;
die "usage: $0 (check|report) HOST PORT DIGEST\n" unless defined $digest && $op =~ /^(check|report)$/;
my $client = Mail::SpamAssassin::Pyzor::Client->new( server_host => $host, server_port => $port, timeout => 5 );
my $resp = eval { $op eq 'check' ? $client->check($digest) : $client->report($digest) };
if ( $@ || !$resp ) { print "NO REPLY\n"; exit 2; }
print "$_: $resp->{$_}\n" for sort keys %$resp;
exit( ( $resp->{Code} // '' ) eq '200' ? 0 : 1 );
